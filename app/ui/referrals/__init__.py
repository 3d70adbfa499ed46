"""Referrals in and out: the Referrals page, a referral's window, the new-referral dialogs."""

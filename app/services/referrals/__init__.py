"""Referrals in and out, from the first step to the closed loop (see ``referrals``)."""

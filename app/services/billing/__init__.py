"""Money: what a patient owes, pays and has agreed to.

Balances (the one place they are computed), payments and the ledger, payment plans with
their schedules (``installments``) and settings, treatment plans and their handouts,
what completing a visit charges (``visit_charges``), receipts and agreements, and the
Plans & Payments overview with the collections queue (``plans_overview``).
"""

"""Made-up clinics: the demo clinic (``demo_clinic``) and the world generator behind it and
``caredesk seed`` (``seed``).  Not a service: nothing in ``app/services`` imports it.
"""

"""The appointment book.

Booking rules and clash checks (``booking``), what the calendar page draws of days, weeks
and months (``appointment_book``), free slots (``availability``), an
appointment's status flow (``appointment_status``), the waitlist, the confirmation list,
recalls, and a provider's schedule taken out as a day sheet or iCalendar file
(``calendar_export``).
"""

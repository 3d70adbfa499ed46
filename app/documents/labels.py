"""Translated words for printed documents, in one place.

Document code writes English message ids in ``_("...")`` calls, so
``pybabel extract`` finds them, and gets ``_`` from :func:`gettext_for`.  A
compiled gettext catalog (resources/locale/<lang>/LC_MESSAGES/caredesk.mo) wins
when one exists; until the catalogs cover them, the Spanish below is the
fallback, so a document never prints half in English.
"""

from __future__ import annotations

from collections.abc import Callable

from app.i18n import language_of, translator

Translate = Callable[[str], str]

#: msgid (English) → Spanish.  Placeholders are ``%(name)s``, as gettext expects.
SPANISH: dict[str, str] = {
    # --- the common look (every document) ---
    "Page %(page)s of %(pages)s": "Página %(page)s de %(pages)s",
    "Printed %(when)s": "Impreso el %(when)s",
    "Patient": "Paciente",
    "Date of birth": "Fecha de nacimiento",
    "Chart no.": "N.º de historia",
    "Phone": "Tel.",
    "Email": "Correo",
    "Confidential: contains protected health information.": (
        "Confidencial: contiene información de salud protegida."
    ),
    # --- recovery kit ---
    "Recovery kit": "Kit de recuperación",
    "Database recovery kit": "Kit de recuperación de la base de datos",
    "Keep this sheet in a safe or a locked drawer.": (
        "Guarde esta hoja en una caja fuerte o en un cajón con llave."
    ),
    "What this is": "Qué es esto",
    "CareDesk keeps %(clinic)s's records encrypted on this computer. This sheet holds the "
    "recovery key that unlocks them. Without it, or the computer's own key store, nobody "
    "can open the records: not you, not your IT support, not CareDesk.": (
        "CareDesk guarda cifrados en este equipo los registros de %(clinic)s. Esta hoja "
        "contiene la clave de recuperación que los abre. Sin ella, o sin el almacén de claves "
        "del propio equipo, nadie puede abrir los registros: ni usted, ni su soporte "
        "informático, ni CareDesk."
    ),
    "Recovery key": "Clave de recuperación",
    "Passphrase": "Frase de contraseña",
    "Scan the code or type the key. Spaces and capitals do not matter.": (
        "Escanee el código o escriba la clave. Los espacios y las mayúsculas dan igual."
    ),
    "Scan the code or type the passphrase exactly as printed: capitals, spaces and "
    "punctuation count.": (
        "Escanee el código o escriba la frase tal como está impresa: cuentan las "
        "mayúsculas, los espacios y los signos."
    ),
    "Clinic": "Clínica",
    "Database ID": "ID de la base de datos",
    "Database file": "Archivo de la base de datos",
    "Created": "Creado",
    "Created by": "Creado por",
    "Kind of key": "Tipo de clave",
    "Recovery key (256-bit)": "Clave de recuperación (256 bits)",
    "Passphrase chosen at setup": "Frase elegida en la configuración",
    "Keep it safe": "Guárdela en lugar seguro",
    "Store this sheet in a safe or a locked drawer, away from the computers.": (
        "Guarde esta hoja en una caja fuerte o en un cajón con llave, lejos de los equipos."
    ),
    "Never email it, photograph it, scan it or keep a copy on any computer or phone.": (
        "Nunca la envíe por correo, ni le haga fotos, ni la escanee, ni guarde una copia en "
        "ningún equipo o teléfono."
    ),
    "Anyone holding this sheet and a copy of the database can read every patient record.": (
        "Cualquiera que tenga esta hoja y una copia de la base de datos puede leer todos "
        "los registros de pacientes."
    ),
    "Tell only the people who may need it where it is kept.": (
        "Diga dónde está guardada solo a las personas que puedan necesitarla."
    ),
    "How to use it": "Cómo usarla",
    "CareDesk asks for the recovery key when this computer's key store is lost: for example "
    "after Windows or macOS is reinstalled, the user account is replaced, or the database "
    "is moved to a new computer.": (
        "CareDesk pide la clave de recuperación cuando se pierde el almacén de claves del "
        "equipo: por ejemplo, tras reinstalar Windows o macOS, cambiar la cuenta de usuario "
        "o mover la base de datos a un equipo nuevo."
    ),
    "Type the key into that window, or scan the QR code with a barcode scanner.": (
        "Escriba la clave en esa ventana o escanee el código QR con un lector de códigos."
    ),
    "Type the passphrase into that window, or scan the QR code with a barcode scanner.": (
        "Escriba la frase en esa ventana o escanee el código QR con un lector de códigos."
    ),
    "CareDesk opens the records and stores the key in the computer's key store again.": (
        "CareDesk abre los registros y vuelve a guardar la clave en el almacén de claves "
        "del equipo."
    ),
    "Lost this sheet? An owner can print it again from Settings.": (
        "¿Ha perdido esta hoja? Un propietario puede volver a imprimirla desde Configuración."
    ),
    "Where this sheet is kept": "Dónde se guarda esta hoja",
    "Date stored": "Guardada el",
    "Stored by": "Guardada por",
    "Place": "Lugar",
    # --- the payment receipt ---
    "Cash": "Efectivo",
    "Card": "Tarjeta",
    "Cheque": "Cheque",
    "Bank transfer": "Transferencia bancaria",
    "Financing company": "Financiera",
    "Insurance": "Seguro",
    "VOID — %(reason)s": "ANULADO — %(reason)s",
    "Voided %(when)s by %(who)s": "Anulado el %(when)s por %(who)s",
    "This receipt is void: the money on it does not count.": (
        "Este recibo está anulado: el importe que figura en él no cuenta."
    ),
    "Refunded": "Reembolsado",
    "Received": "Recibido",
    "Refunded by": "Reembolsado por",
    "Received by": "Recibido por",
    "Amount": "Importe",
    "Method": "Forma de pago",
    "Reference": "Referencia",
    "Reason": "Motivo",
    "Note": "Nota",
    "Installment %(n)s of payment plan #%(plan)s": "Cuota %(n)s del plan de pagos n.º %(plan)s",
    "Charge": "Cargo",
    "Account credit": "Saldo a favor en la cuenta",
    "Refunded %(when)s, receipt %(number)s": "Reembolsado el %(when)s, recibo %(number)s",
    "Refunded, receipt %(number)s": "Reembolsado, recibo %(number)s",
    "Refund of receipt %(number)s": "Reembolso del recibo %(number)s",
    "Description": "Concepto",
    "Total": "Total",
    "Credit on account": "Saldo a favor",
    "Balance due": "Saldo pendiente",
    "Account balance as of %(when)s": "Saldo de la cuenta a %(when)s",
    "Account balance": "Saldo de la cuenta",
    "Refund receipt": "Recibo de reembolso",
    "Receipt": "Recibo",
    "Refund": "Reembolso",
    "What this payment paid": "A qué se aplicó este pago",
    "Thank you for your payment.": "Gracias por su pago.",
    "Receipt %(number)s": "Recibo %(number)s",
    # --- the day sheet ---
    "%(h)s h %(m)s min": "%(h)s h %(m)s min",
    "%(h)s h": "%(h)s h",
    "%(m)s min": "%(m)s min",
    "DOB %(date)s": "F. nac. %(date)s",
    "Medical alert": "Alerta médica",
    "Allergy": "Alergia",
    "Appointment": "Cita",
    "Time": "Hora",
    "Service / room": "Servicio / sala",
    "Status": "Estado",
    "Notes": "Notas",
    "Balance": "Saldo",
    "%(n)s appointment(s), %(p)s patient(s)": "%(n)s cita(s), %(p)s paciente(s)",
    "%(n)s no-show(s)": "%(n)s ausencia(s)",
    "%(booked)s of %(working)s working time": "%(booked)s de %(working)s de jornada",
    "Appointments": "Citas",
    "Booked time": "Tiempo reservado",
    "Fees of booked services": "Honorarios de los servicios reservados",
    "Balances due (patients on this sheet)": "Saldos pendientes (pacientes de esta hoja)",
    "No appointments booked for this day.": "No hay citas reservadas para este día.",
    "Day totals": "Totales del día",
    "Day sheet": "Hoja del día",
    "Appointments of %(provider)s": "Citas de %(provider)s",
    # --- the treatment-plan handout ---
    "Option %(letter)s": "Opción %(letter)s",
    "Your treatment plan": "Su plan de tratamiento",
    "Your treatment options": "Sus opciones de tratamiento",
    "Treatment": "Tratamiento",
    "Phases": "Fases",
    "Treatment items": "Tratamientos incluidos",
    "Fees": "Honorarios",
    "Discounts": "Descuentos",
    "Insurance estimate": "Estimación del seguro",
    "You pay": "Usted paga",
    "Your options side by side": "Sus opciones, una al lado de la otra",
    "We talked about more than one way to treat you. Each option is explained in detail on "
    "the pages that follow.": (
        "Hablamos de más de una forma de tratarle. Cada opción se explica en detalle en las "
        "páginas siguientes."
    ),
    "Visits:": "Visitas:",
    "To be scheduled. We will call you to book.": (
        "Por programar. Le llamaremos para reservar la cita."
    ),
    "done": "realizada",
    "Area": "Zona",
    "Qty": "Cant.",
    "Fee": "Honorario",
    "Discount": "Descuento",
    "Phase total": "Total de la fase",
    "Total for %(option)s": "Total de la %(option)s",
    "Total for this plan": "Total de este plan",
    "Your provider: %(name)s": "Su profesional: %(name)s",
    "Phase %(n)s: %(title)s": "Fase %(n)s: %(title)s",
    "No treatment in this phase.": "Esta fase no incluye tratamientos.",
    "Your payment plan": "Su plan de pagos",
    "These are the terms you signed.": "Estas son las condiciones que usted firmó.",
    "These terms are a proposal until you sign the payment plan agreement.": (
        "Estas condiciones son una propuesta hasta que firme el acuerdo del plan de pagos."
    ),
    "Down payment": "Pago inicial",
    "Amount financed": "Importe financiado",
    "Annual percentage rate (APR)": "Tasa de porcentaje anual (APR)",
    "Finance charge (interest)": "Cargo financiero (intereses)",
    "Total of payments": "Total de los pagos",
    "Payment": "Pago",
    "Due date": "Fecha de vencimiento",
    "Total of installments": "Total de las cuotas",
    "Next steps": "Próximos pasos",
    "Thank you for choosing your treatment with us. Keep this copy of what you agreed.": (
        "Gracias por elegir su tratamiento con nosotros. Guarde esta copia de lo que aceptó."
    ),
    "We will call you to book any visits still to be scheduled.": (
        "Le llamaremos para reservar las visitas que falten por programar."
    ),
    "Ask us about a payment plan if you would like to spread the cost.": (
        "Pregúntenos por un plan de pagos si desea repartir el coste."
    ),
    "Take this handout home and read it at your own pace.": (
        "Llévese este documento a casa y léalo con calma."
    ),
    "When you are ready, tell us which treatment you choose so we can book your visits.": (
        "Cuando esté listo, díganos qué tratamiento elige para reservar sus visitas."
    ),
    "Insurance amounts are estimates: your insurer decides what it pays, and you pay the "
    "difference.": (
        "Los importes del seguro son estimaciones: su aseguradora decide cuánto paga y usted "
        "paga la diferencia."
    ),
    "Questions? We are here to help": "¿Tiene preguntas? Estamos para ayudarle",
    "Accepted on %(date)s": "Aceptado el %(date)s",
    "Prepared for %(name)s on %(date)s": "Preparado para %(name)s el %(date)s",
    "This handout explains the treatment we recommend, in the order we plan to do it, and "
    "what it costs. Amounts are in %(currency)s.": (
        "Este documento explica el tratamiento que le recomendamos, en el orden en que "
        "pensamos realizarlo, y lo que cuesta. Los importes están en %(currency)s."
    ),
}

_BUILTIN: dict[str, dict[str, str]] = {"es": SPANISH}


def gettext_for(locale: str) -> Translate:
    """The ``_`` for one document: the compiled catalog first, the built-in Spanish second."""
    catalog = translator(locale)
    builtin = _BUILTIN.get(language_of(locale), {})

    def _(message: str) -> str:
        translated = catalog.gettext(message)
        if translated == message:
            return builtin.get(message, message)
        return translated

    return _

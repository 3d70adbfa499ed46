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

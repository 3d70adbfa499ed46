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
    # --- the intake form ---
    "Heart disease or heart attack": "Enfermedad cardíaca o infarto",
    "High blood pressure": "Presión arterial alta",
    "Heart murmur or artificial heart valve": "Soplo cardíaco o válvula cardíaca artificial",
    "Pacemaker or implanted defibrillator": "Marcapasos o desfibrilador implantado",
    "Stroke": "Derrame cerebral (ictus)",
    "Diabetes": "Diabetes",
    "Bleeding disorder or anemia": "Trastorno de la coagulación o anemia",
    "Taking blood thinners": "Toma anticoagulantes",
    "Asthma or lung disease": "Asma o enfermedad pulmonar",
    "Hepatitis, HIV or tuberculosis": "Hepatitis, VIH o tuberculosis",
    "Kidney disease": "Enfermedad renal",
    "Liver disease": "Enfermedad hepática",
    "Thyroid disease": "Enfermedad de la tiroides",
    "Epilepsy or seizures": "Epilepsia o convulsiones",
    "Cancer, radiation or chemotherapy": "Cáncer, radioterapia o quimioterapia",
    "Artificial joint": "Prótesis articular",
    "Osteoporosis or bone-strengthening medicine": (
        "Osteoporosis o medicamentos para fortalecer los huesos"
    ),
    "Pregnant or breastfeeding": "Embarazo o lactancia",
    "Depression, anxiety or other mental health condition": (
        "Depresión, ansiedad u otro problema de salud mental"
    ),
    "Fainting spells or dizziness": "Desmayos o mareos",
    "Latex allergy": "Alergia al látex",
    "Tobacco or vaping": "Tabaco o vapeo",
    "Female": "Femenino",
    "Male": "Masculino",
    "Intersex": "Intersexual",
    "Self": "Uno mismo",
    "Spouse": "Cónyuge",
    "Child": "Hijo/a",
    "Other": "Otro",
    "Primary insurance": "Seguro principal",
    "Secondary insurance": "Seguro secundario",
    "Other insurance": "Otro seguro",
    "Patient intake form": "Formulario de admisión del paciente",
    "Please fill in every section. Write “none” where a question does not apply.": (
        "Complete todas las secciones. Escriba «ninguno» si una pregunta no le corresponde."
    ),
    "Everything you tell us is kept confidential in your health record.": (
        "Todo lo que nos indique se guarda de forma confidencial en su historia clínica."
    ),
    "This is what we have on file for you. Please check every section, correct anything "
    "that has changed and fill in any blanks.": (
        "Estos son los datos que tenemos registrados. Revise cada sección, corrija lo que haya "
        "cambiado y complete los espacios en blanco."
    ),
    "Prepared on %(date)s": "Preparado el %(date)s",
    "About you": "Sus datos",
    "Last name": "Apellidos",
    "First name": "Nombre",
    "Middle name": "Segundo nombre",
    "Preferred name": "Nombre preferido",
    "Sex": "Sexo",
    "Pronouns": "Pronombres",
    "Preferred language": "Idioma preferido",
    "Contact details": "Datos de contacto",
    "Street address": "Dirección",
    "Apartment, suite, unit": "Apartamento, oficina, unidad",
    "City": "Ciudad",
    "State / region": "Estado / región",
    "Postal code": "Código postal",
    "Mobile phone": "Teléfono móvil",
    "Home phone": "Teléfono de casa",
    "Work phone": "Teléfono del trabajo",
    "Email address": "Correo electrónico",
    "Emergency contact": "Contacto de emergencia",
    "Contact name": "Nombre del contacto",
    "Relationship to you": "Parentesco con usted",
    "Phone number": "Número de teléfono",
    "Insurance company": "Compañía de seguros",
    "Plan name": "Nombre del plan",
    "Member ID": "N.º de afiliado",
    "Group number": "N.º de grupo",
    "Policy holder (subscriber)": "Titular de la póliza",
    "Holder's relationship to you": "Parentesco del titular con usted",
    "Holder's date of birth": "Fecha de nacimiento del titular",
    "Do you have, or have you ever had, any of the following?": (
        "¿Tiene o ha tenido alguna vez alguno de los siguientes problemas?"
    ),
    "Other conditions, operations or hospital stays": (
        "Otras enfermedades, operaciones u hospitalizaciones"
    ),
    "Medical alerts on file": "Alertas médicas registradas",
    "Medical history": "Antecedentes médicos",
    "Medicines you take, with the dose (include vitamins and supplements)": (
        "Medicamentos que toma, con la dosis (incluya vitaminas y suplementos)"
    ),
    "Allergies to medicines, foods or materials, and what happens": (
        "Alergias a medicamentos, alimentos o materiales, y qué le ocurre"
    ),
    "Medications and allergies": "Medicamentos y alergias",
    "Changes since your last visit": "Cambios desde su última visita",
    "Text messages to my mobile phone": "Mensajes de texto a mi teléfono móvil",
    "Voicemail messages": "Mensajes en el buzón de voz",
    "How we may contact you": "Cómo podemos comunicarnos con usted",
    "%(clinic)s may contact me about appointments, treatment and payments by (tick all "
    "that you agree to):": (
        "%(clinic)s puede comunicarse conmigo sobre citas, tratamientos y pagos por (marque "
        "todo lo que acepte):"
    ),
    "You can change these choices at any time by telling the front desk.": (
        "Puede cambiar estas opciones en cualquier momento en la recepción."
    ),
    "I have received, or have been offered, a copy of the Notice of Privacy Practices of "
    "%(clinic)s, which explains how my health information may be used and shared.": (
        "He recibido, o se me ha ofrecido, una copia del Aviso de prácticas de privacidad de "
        "%(clinic)s, que explica cómo se puede usar y compartir mi información de salud."
    ),
    "Notice of privacy practices": "Aviso de prácticas de privacidad",
    "Your signature": "Su firma",
    "The information on this form is correct to the best of my knowledge. I will tell the "
    "clinic when it changes.": (
        "La información de este formulario es correcta a mi leal saber y entender. Avisaré a "
        "la clínica cuando cambie."
    ),
    "Signature of patient or legal guardian": "Firma del paciente o tutor legal",
    "Today's date": "Fecha de hoy",
    "Name in capital letters": "Nombre en letra de imprenta",
    "Relationship, if not the patient": "Parentesco, si no es el paciente",
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
    # --- the payment plan agreement ---
    "Weekly": "Semanal",
    "Every two weeks": "Cada dos semanas",
    "Monthly": "Mensual",
    "On the dates in the schedule": "En las fechas del calendario de pagos",
    "a late fee of %(amount)s": "se añade a la cuenta un recargo por demora de %(amount)s",
    "a late fee of %(percent)s of the part still unpaid": (
        "se añade a la cuenta un recargo por demora del %(percent)s de la parte no pagada"
    ),
    "This plan has no late fee.": "Este plan no tiene recargo por demora.",
    "If an installment is not paid in full by its due date": (
        "Si una cuota no se paga por completo en su fecha de vencimiento"
    ),
    "If an installment is still not paid in full one day after its due date": (
        "Si una cuota sigue sin pagarse por completo un día después de su fecha de vencimiento"
    ),
    "If an installment is still not paid in full %(days)s days after its due date": (
        "Si una cuota sigue sin pagarse por completo %(days)s días después de su fecha de "
        "vencimiento"
    ),
    "%(when)s, %(fee)s is added to the account, once for that installment.": (
        "%(when)s, %(fee)s, una sola vez por esa cuota."
    ),
    "Replaced by a newer version of this plan: these terms no longer apply.": (
        "Sustituido por una versión más reciente de este plan: estas condiciones ya no se aplican."
    ),
    "This payment plan was cancelled: these terms no longer apply.": (
        "Este plan de pagos se canceló: estas condiciones ya no se aplican."
    ),
    "Total amount": "Importe total",
    "Payment frequency": "Frecuencia de pago",
    "Number of installments": "Número de cuotas",
    "First payment due": "Vencimiento del primer pago",
    "Last payment due": "Vencimiento del último pago",
    "No.": "N.º",
    "Principal": "Capital",
    "Interest": "Intereses",
    "Balance after": "Saldo restante",
    "Sign here": "Firme aquí",
    "Name (print)": "Nombre (en letra de imprenta)",
    "Patient or responsible party": "Paciente o responsable del pago",
    "For %(clinic)s": "Por %(clinic)s",
    "By signing, the patient agrees to pay the installments above on their due dates, and "
    "confirms having received a copy of this agreement.": (
        "Con su firma, el paciente se compromete a pagar las cuotas anteriores en sus fechas "
        "de vencimiento y confirma que ha recibido una copia de este acuerdo."
    ),
    "Signed on %(date)s.": "Firmado el %(date)s.",
    "Payment plan agreement": "Acuerdo de plan de pagos",
    "Payment plan #%(plan)s, version %(version)s, dated %(date)s": (
        "Plan de pagos n.º %(plan)s, versión %(version)s, con fecha %(date)s"
    ),
    "%(patient)s agrees to pay %(clinic)s the amount financed below, with any interest "
    "shown, in the installments and on the dates listed in the schedule.": (
        "%(patient)s se compromete a pagar a %(clinic)s el importe financiado que figura a "
        "continuación, con los intereses indicados, en las cuotas y las fechas del calendario "
        "de pagos."
    ),
    "Terms": "Condiciones",
    "The down payment of %(amount)s is due when this agreement is signed.": (
        "El pago inicial de %(amount)s se abona al firmar este acuerdo."
    ),
    "Schedule of payments": "Calendario de pagos",
    "Late payments": "Pagos atrasados",
    "Payment plan #%(plan)s": "Plan de pagos n.º %(plan)s",
    # --- the referral letter ---
    "Fax": "Fax",
    "Dear %(name)s,": "Estimado/a %(name)s:",
    "Dear colleague,": "Estimado/a colega:",
    "date of birth %(date)s": "fecha de nacimiento %(date)s",
    "our chart no. %(chart)s": "n.º de historia en nuestra clínica %(chart)s",
    "URGENT: please see this patient as soon as possible.": (
        "URGENTE: atienda a este paciente lo antes posible."
    ),
    "Re: referral of %(patient)s": "Asunto: derivación de %(patient)s",
    "I am referring my patient %(name)s to you for the following reason:": (
        "Le derivo a mi paciente %(name)s por el siguiente motivo:"
    ),
    "(No reason was recorded.)": "(No se registró ningún motivo.)",
    "You can reach the patient at %(contact)s.": "Puede contactar con el paciente en %(contact)s.",
    "Enclosed records": "Documentación adjunta",
    "No records are enclosed with this letter.": "Esta carta no lleva documentación adjunta.",
    "Thank you for seeing this patient. Please send your findings and treatment notes to us "
    "at the address above.": (
        "Gracias por atender a este paciente. Le rogamos que nos envíe sus conclusiones y notas "
        "de tratamiento a la dirección indicada arriba."
    ),
    "Sincerely,": "Atentamente,",
    "Licence no. %(number)s": "N.º de colegiado %(number)s",
    "Referral letter": "Carta de derivación",
    "Referral of %(name)s": "Derivación de %(name)s",
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
    # --- consent forms ---
    "Risks": "Riesgos",
    "Alternatives": "Alternativas",
    "Signatures": "Firmas",
    "By signing, I confirm that I have read this form (or had it read to me), that I "
    "understand it, and that my questions have been answered.": (
        "Con mi firma, confirmo que he leído este formulario (o que me lo han leído), que lo "
        "entiendo y que se han respondido mis preguntas."
    ),
    "Signature of patient or legal representative": "Firma del paciente o representante legal",
    "Date signed": "Fecha de la firma",
    "Name of patient or legal representative (print)": (
        "Nombre del paciente o representante legal (en letra de imprenta)"
    ),
    "Relationship to the patient, if signing for them": (
        "Parentesco con el paciente, si firma en su nombre"
    ),
    "Signature of witness": "Firma del testigo",
    "Witness date": "Fecha del testigo",
    "Name of witness (print)": "Nombre del testigo (en letra de imprenta)",
    "Form %(key)s, version %(version)s (%(language)s)": (
        "Formulario %(key)s, versión %(version)s (%(language)s)"
    ),
    "Consent form": "Formulario de consentimiento",
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

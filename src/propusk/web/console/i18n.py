"""The console's message catalog: English and Russian.

Each key maps to an (English, Russian) pair, so a key cannot exist in one language only;
a test checks that every key a template or route uses is here and that no text is empty.
Values are ``str.format`` templates (``{name}``). A text that is not a key (an error
message from a service) is shown as it is.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MESSAGES", "has_key", "translate"]

LANG = {"en": 0, "ru": 1}

MESSAGES: dict[str, tuple[str, str]] = {
    # navigation
    "nav.skip": ("Skip to content", "Перейти к содержимому"),
    "nav.organization": ("Organization", "Организация"),
    "nav.go": ("Go", "Перейти"),
    "nav.sign_out": ("Sign out", "Выйти"),
    "nav.sections": ("Sections", "Разделы"),
    "nav.service_keys": ("Service keys", "Сервисные ключи"),
    "nav.api_keys": ("API keys", "API-ключи"),
    "nav.apps": ("Apps", "Приложения"),
    "nav.members": ("Members", "Участники"),
    "nav.audit": ("Audit log", "Журнал аудита"),
    "nav.all_orgs": ("All organizations", "Все организации"),
    # fields, columns, actions
    "field.email": ("E-mail", "Электронная почта"),
    "field.password": ("Password", "Пароль"),
    "field.new_password": ("New password", "Новый пароль"),
    "field.repeat": ("Repeat the password", "Повторите пароль"),
    "field.language": ("Language", "Язык"),
    "field.code": ("Code from the e-mail", "Код из письма"),
    "field.name": ("Name", "Название"),
    "col.name": ("Name", "Название"),
    "col.key_id": ("Key ID", "ID ключа"),
    "col.app_id": ("App ID", "ID приложения"),
    "col.methods": ("Methods", "Методы"),
    "col.apps": ("Apps", "Приложения"),
    "col.modified": ("Modified", "Изменён"),
    "col.last_used": ("Last used", "Последнее использование"),
    "col.status": ("Status", "Статус"),
    "col.actions": ("Actions", "Действия"),
    "col.created": ("Created", "Создано"),
    "col.role": ("Role", "Роль"),
    "col.since": ("Member since", "Участник с"),
    "action.cancel": ("Cancel", "Отмена"),
    "action.delete": ("Delete", "Удалить"),
    "action.disable": ("Disable", "Отключить"),
    "action.enable": ("Enable", "Включить"),
    "action.rotate": ("Rotate", "Перевыпустить"),
    "action.reroll": ("Reroll", "Перевыпустить"),
    "action.revoke": ("Revoke", "Отозвать"),
    "status.active": ("Active", "Активен"),
    "status.disabled": ("Disabled", "Отключён"),
    "status.revoked": ("Revoked", "Отозван"),
    "status.expired": ("Expired", "Истёк"),
    "role.owner": ("Owner", "Владелец"),
    "role.admin": ("Administrator", "Администратор"),
    "role.developer": ("Developer", "Разработчик"),
    "role.viewer": ("Viewer", "Наблюдатель"),
    # sign in, sign up, confirmation, password reset
    "login.title": ("Sign in", "Вход"),
    "login.submit": ("Sign in", "Войти"),
    "login.to_signup": ("Create an account", "Создать аккаунт"),
    "login.forgot": ("Forgot your password?", "Забыли пароль?"),
    "login.to_confirm": ("Confirm your e-mail", "Подтвердить почту"),
    "signup.title": ("Create an account", "Регистрация"),
    "signup.submit": ("Create the account", "Зарегистрироваться"),
    "signup.password_hint": ("At least 8 characters.", "Не короче 8 символов."),
    "signup.to_login": ("I already have an account", "У меня уже есть аккаунт"),
    "confirm.title": ("Confirm your e-mail", "Подтверждение почты"),
    "confirm.intro": (
        "We sent you a message with a code. Paste the code here, or open the link in it.",
        "Мы отправили вам письмо с кодом. Вставьте код сюда или откройте ссылку из письма.",
    ),
    "confirm.submit": ("Confirm", "Подтвердить"),
    "confirm.resend_title": ("No message?", "Письмо не пришло?"),
    "confirm.resend": ("Send it again", "Отправить ещё раз"),
    "forgot.title": ("Reset the password", "Сброс пароля"),
    "forgot.intro": (
        "We will send a one-time code to your e-mail address.",
        "Мы отправим одноразовый код на вашу почту.",
    ),
    "forgot.submit": ("Send the code", "Отправить код"),
    "forgot.have_code": ("I have a code", "У меня есть код"),
    "reset.title": ("Set a new password", "Новый пароль"),
    "reset.submit": ("Change the password", "Сменить пароль"),
    # organizations
    "orgs.title": ("Organizations", "Организации"),
    "orgs.none": (
        "You are not a member of any organization yet. Create one:",
        "Вы пока не состоите ни в одной организации. Создайте её:",
    ),
    "orgs.create": ("Create an organization", "Создать организацию"),
    "orgs.create_submit": ("Create", "Создать"),
    "orgs.kind": ("Kind", "Тип"),
    "orgs.kind_company": ("Company", "Компания"),
    "orgs.kind_individual": ("Individual developer", "Индивидуальный разработчик"),
    # apps
    "apps.title": ("Apps", "Приложения"),
    "apps.new_name": ("New app", "Новое приложение"),
    "apps.create": ("Add app", "Добавить"),
    "apps.none": ("No apps yet.", "Приложений пока нет."),
    "apps.confirm_delete": ("Delete the app {name}?", "Удалить приложение {name}?"),
    # members
    "members.title": ("Members", "Участники"),
    "members.invite_email": ("E-mail of the account", "Почта аккаунта"),
    "members.invite": ("Add member", "Добавить"),
    "members.invite_hint": (
        "The person must have a Propusk account with this e-mail address.",
        "У человека должен быть аккаунт Propusk с этим адресом почты.",
    ),
    "members.role_of": ("Role of {email}", "Роль {email}"),
    "members.change": ("Change", "Изменить"),
    "members.remove": ("Remove", "Исключить"),
    "members.confirm_remove": ("Remove {email}?", "Исключить {email}?"),
    # audit
    "audit.title": ("Audit log", "Журнал аудита"),
    "audit.kind": ("Event", "Событие"),
    "audit.since": ("From", "С"),
    "audit.until": ("To", "По"),
    "audit.filter": ("Filter", "Показать"),
    "audit.at": ("Time (UTC)", "Время (UTC)"),
    "audit.outcome": ("Outcome", "Результат"),
    "audit.actor": ("Who", "Кто"),
    "audit.target": ("Object", "Объект"),
    "audit.older": ("Older events", "Более ранние события"),
    "audit.none": ("No events.", "Событий нет."),
    # service keys
    "keys.title": ("Service keys", "Сервисные ключи"),
    "keys.create": ("Create key", "Создать ключ"),
    "keys.save": ("Create", "Создать"),
    "keys.owners_only": (
        "Only the organization's owners create, rotate and delete keys.",
        "Создавать, перевыпускать и удалять ключи может только владелец организации.",
    ),
    "keys.search": ("Search by name or key ID", "Поиск по названию или ID"),
    "keys.search_go": ("Search", "Найти"),
    "keys.none": ("No keys yet.", "Ключей пока нет."),
    "keys.no_match": ("No key matches.", "Ничего не найдено."),
    "keys.never": ("Never", "Не использовался"),
    "scope.apps": ("Apps", "Приложения"),
    "scope.all_apps": ("All apps", "Все приложения"),
    "scope.all_apps_note": (
        "All apps that exist now. Apps you create later are not included.",
        "Все приложения, которые есть сейчас. Приложения, созданные позже, не войдут.",
    ),
    "scope.no_apps": ("The organization has no apps yet.", "У организации пока нет приложений."),
    "scope.methods_app": ("App methods", "Методы приложений"),
    "scope.methods_app_hint": (
        "Work only with the apps chosen above.",
        "Работают только с выбранными выше приложениями.",
    ),
    "scope.methods_general": ("General methods", "Общие методы"),
    "scope.methods_general_hint": (
        "Return data of all the organization's apps.",
        "Возвращают данные всех приложений организации.",
    ),
    "secret.title_key": ("Your private key", "Ваш закрытый ключ"),
    "secret.title_api": ("Your API key", "Ваш API-ключ"),
    "secret.created": ("The key is created", "Ключ создан"),
    "secret.rotated": ("The key is rotated", "Ключ перевыпущен"),
    "secret.api_created": ("The API key is created", "API-ключ создан"),
    "secret.rerolled": ("The API key is rerolled", "API-ключ перевыпущен"),
    "secret.warning": (
        "Copy or download it now. It is shown only once and cannot be shown again.",
        "Скопируйте или скачайте его сейчас. Он показывается один раз, "
        "повторно его получить нельзя.",
    ),
    "secret.private_key": (
        "Private key (Base64 of DER PKCS#8)",
        "Закрытый ключ (Base64 от DER PKCS#8)",
    ),
    "secret.api_key": ("API key", "API-ключ"),
    "secret.copy": ("Copy", "Копировать"),
    "secret.copied": ("Copied to the clipboard.", "Скопировано в буфер обмена."),
    "secret.download": ("Download", "Скачать"),
    "secret.download_b64": ("Download (Base64)", "Скачать (Base64)"),
    "secret.download_pem": ("Download (PEM)", "Скачать (PEM)"),
    "secret.done": ("I have saved it", "Я сохранил ключ"),
    "secret.back_keys": ("Back to the keys", "К списку ключей"),
    "secret.back_api": ("Back to the API keys", "К списку API-ключей"),
    "rotate.title": ("Rotate the key", "Перевыпуск ключа"),
    "rotate.explain": (
        "A new key pair replaces the one of “{name}”. The old private key stops working "
        "at once and tokens made with it are refused.",
        "Новая пара ключей заменит пару ключа «{name}». Старый закрытый ключ сразу "
        "перестанет работать, выданные с ним токены будут отклоняться.",
    ),
    "rotate.submit": ("Rotate", "Перевыпустить"),
    "delete.title": ("Delete the key", "Удаление ключа"),
    "delete.explain": (
        "The key “{name}” and every token made with it stop working for good.",
        "Ключ «{name}» и все выданные с ним токены перестанут работать навсегда.",
    ),
    "delete.type_name": ("Type “{name}” to confirm", "Введите «{name}» для подтверждения"),
    "delete.submit": ("Delete the key", "Удалить ключ"),
    # API keys
    "api.title": ("API keys", "API-ключи"),
    "api.create": ("Create an API key", "Создать API-ключ"),
    "api.save": ("Create", "Создать"),
    "api.none": ("No API keys yet.", "API-ключей пока нет."),
    "api.confirm_revoke": ("Revoke the API key {name}?", "Отозвать API-ключ {name}?"),
    "reroll.title": ("Reroll the API key", "Перевыпуск API-ключа"),
    "reroll.explain": (
        "A new secret replaces the one of “{name}”; the old one stops working at once.",
        "Новый секрет заменит секрет ключа «{name}»; старый сразу перестанет работать.",
    ),
    "reroll.submit": ("Reroll", "Перевыпустить"),
    # signing keys
    "nav.signing_keys": ("Signing keys", "Ключи подписи"),
    "signing.title": ("Signing keys", "Ключи подписи"),
    "signing.intro": (
        "Partners' public keys for signed requests (X-Digital-Sign, RFC 9421). "
        "The partner keeps the private key.",
        "Открытые ключи партнёров для подписанных запросов (X-Digital-Sign, RFC 9421). "
        "Закрытый ключ остаётся у партнёра.",
    ),
    "signing.type": ("Key type", "Тип ключа"),
    "signing.algorithms": ("Algorithms", "Алгоритмы"),
    "signing.algorithms_hint": (
        "None ticked: the modern default for the key's type.",
        "Если ничего не отмечено, будет выбран современный алгоритм для типа ключа.",
    ),
    "signing.legacy": ("Legacy algorithms (MD5, SHA-1)", "Устаревшие алгоритмы (MD5, SHA-1)"),
    "signing.legacy_warning": (
        "MD5 and SHA-1 are broken: signatures with them can be forged. Enable them only "
        "for a partner that cannot sign otherwise yet, and move it to SHA256withRSA.",
        "MD5 и SHA-1 взломаны: подписи с ними можно подделать. Включайте их только для "
        "партнёра, который пока не умеет иначе, и переведите его на SHA256withRSA.",
    ),
    "signing.allow_legacy": (
        "I understand: enable the ticked legacy algorithms for this key",
        "Я понимаю риск: включить отмеченные устаревшие алгоритмы для этого ключа",
    ),
    "signing.paste": ("Public key (PEM)", "Открытый ключ (PEM)"),
    "signing.pem_hint": (
        "RSA (2048 bits or more), ECDSA P-256 or P-384, or Ed25519.",
        "RSA (от 2048 бит), ECDSA P-256 или P-384, либо Ed25519.",
    ),
    "signing.upload": ("…or upload its file", "…или загрузите файл"),
    "signing.login": ("Partner login (optional)", "Логин партнёра (необязательно)"),
    "signing.login_hint": (
        "The value the partner sends in X-Digital-Sign-Login. Unique on this server.",
        "Значение, которое партнёр передаёт в X-Digital-Sign-Login. Уникально на сервере.",
    ),
    "signing.terminal_id": ("Terminal ID (optional)", "ID терминала (необязательно)"),
    "signing.terminal_id_hint": (
        "The <terminal-id> of the partner's XML requests. Unique on this server.",
        "Значение <terminal-id> в XML-запросах партнёра. Уникально на сервере.",
    ),
    "signing.allowed_ips": ("Allowed addresses (optional)", "Разрешённые адреса (необязательно)"),
    "signing.allowed_ips_hint": (
        "Addresses or networks, separated by spaces; empty: any address.",
        "Адреса или сети через пробел; пусто — любой адрес.",
    ),
    "signing.add": ("Add a signing key", "Добавить ключ подписи"),
    "signing.save": ("Add", "Добавить"),
    "signing.none": ("No signing keys yet.", "Ключей подписи пока нет."),
    "signing.confirm_delete": ("Delete the signing key {name}?", "Удалить ключ подписи {name}?"),
    # certificates
    "nav.certificates": ("Certificates", "Сертификаты"),
    "certs.title": ("Client certificates", "Клиентские сертификаты"),
    "certs.intro": (
        "Certificates for mutual TLS, issued by the Propusk CA from your certificate "
        "requests (CSR). The private key never leaves your side.",
        "Сертификаты для взаимного TLS, которые выпускает УЦ Propusk по вашим запросам "
        "(CSR). Закрытый ключ остаётся у вас.",
    ),
    "certs.requests": ("Certificate requests", "Запросы на сертификат"),
    "certs.no_requests": ("No requests yet.", "Запросов пока нет."),
    "certs.subject": ("Subject", "Субъект"),
    "certs.approve": ("Approve", "Одобрить"),
    "certs.reject": ("Reject", "Отклонить"),
    "certs.reject_reason": ("Reason for rejecting", "Причина отказа"),
    "certs.certificates": ("Certificates", "Сертификаты"),
    "certs.none": ("No certificates yet.", "Сертификатов пока нет."),
    "certs.serial": ("Serial", "Серийный номер"),
    "certs.valid_until": ("Valid until", "Действует до"),
    "certs.download": ("Download", "Скачать"),
    "certs.certificate": ("certificate", "сертификат"),
    "certs.chain": ("CA chain", "цепочка УЦ"),
    "certs.revoke_reason": ("Reason for revoking", "Причина отзыва"),
    "certs.confirm_revoke": (
        "Revoke this certificate for good?",
        "Отозвать этот сертификат навсегда?",
    ),
    "certs.submit_title": ("Request a certificate", "Запросить сертификат"),
    "certs.paste": ("Certificate request (PEM)", "Запрос на сертификат (PEM)"),
    "certs.upload": ("…or upload the CSR file", "…или загрузите файл CSR"),
    "certs.submit": ("Submit", "Отправить"),
    "status.pending": ("Pending", "Ожидает"),
    "status.approved": ("Approved", "Одобрен"),
    "status.rejected": ("Rejected", "Отклонён"),
    # messages after an action
    "flash.signed_out": ("You are signed out.", "Вы вышли."),
    "flash.check_mail": (
        "Check your e-mail for the confirmation code.",
        "Проверьте почту: мы отправили код подтверждения.",
    ),
    "flash.confirmed": ("The e-mail is confirmed. Sign in.", "Почта подтверждена. Войдите."),
    "flash.resent": (
        "If the account exists and is not confirmed, a new message was sent.",
        "Если аккаунт существует и не подтверждён, мы отправили новое письмо.",
    ),
    "flash.reset_sent": (
        "If the account exists, a code was sent to it.",
        "Если аккаунт существует, мы отправили на него код.",
    ),
    "flash.password_changed": (
        "The password is changed. Sign in.",
        "Пароль изменён. Войдите.",
    ),
    "flash.org_created": ("The organization is created.", "Организация создана."),
    "flash.app_created": ("The app is added.", "Приложение добавлено."),
    "flash.app_deleted": ("The app is deleted.", "Приложение удалено."),
    "flash.member_added": ("The member is added.", "Участник добавлен."),
    "flash.role_changed": ("The role is changed.", "Роль изменена."),
    "flash.member_removed": ("The member is removed.", "Участник исключён."),
    "flash.key_disabled": ("The key is disabled.", "Ключ отключён."),
    "flash.key_enabled": ("The key is enabled.", "Ключ включён."),
    "flash.key_deleted": ("The key is deleted.", "Ключ удалён."),
    "flash.api_key_revoked": ("The API key is revoked.", "API-ключ отозван."),
    "flash.signing_key_added": ("The signing key is added.", "Ключ подписи добавлен."),
    # the CA operator's queue (server admins)
    "nav.ca_requests": ("CA requests", "Запросы к УЦ"),
    "ca.title": ("Pending certificate requests", "Запросы на сертификат, ждущие решения"),
    "ca.intro": (
        "Requests of every organization, waiting for a CA operator. Approving issues the "
        "certificate for the requested scope; a rejection's reason is shown to the requester.",
        "Запросы всех организаций, ждущие решения оператора УЦ. Одобрение выпускает "
        "сертификат на запрошенную область; причину отказа увидит тот, кто отправил запрос.",
    ),
    "ca.app_ids": ("App IDs", "ID приложений"),
    "ca.none": ("No requests are waiting.", "Нет запросов, ждущих решения."),
    "flash.csr_submitted": (
        "The request is submitted; a CA operator decides it.",
        "Запрос отправлен; решение примет оператор УЦ.",
    ),
    "flash.csr_approved": ("The certificate is issued.", "Сертификат выпущен."),
    "flash.csr_rejected": ("The request is rejected.", "Запрос отклонён."),
    "flash.certificate_revoked": ("The certificate is revoked.", "Сертификат отозван."),
    # errors
    "error.title": ("Something went wrong", "Что-то пошло не так"),
    "error.back": ("Back to the console", "Вернуться в консоль"),
    "error.csrf": (
        "The form expired or did not come from this page. Reload the page and try again.",
        "Форма устарела или отправлена не с этой страницы. Обновите страницу и повторите.",
    ),
    "error.forbidden": (
        "Your role in this organization does not allow this.",
        "Ваша роль в этой организации этого не позволяет.",
    ),
    "error.invalid": ("The request is malformed.", "Некорректный запрос."),
    "error.not_found": ("Not found.", "Не найдено."),
    "error.invalid_request": ("The request is malformed.", "Некорректный запрос."),
    "error.conflict": ("It already exists.", "Такое уже существует."),
    "error.too_many_attempts": (
        "Too many attempts, try again later.",
        "Слишком много попыток, попробуйте позже.",
    ),
    "error.unavailable": (
        "The service is temporarily unavailable. Try again in a moment.",
        "Сервис временно недоступен. Повторите попытку чуть позже.",
    ),
}


def has_key(key: str) -> bool:
    return key in MESSAGES


def translate(locale: str, key: str, **values: Any) -> str:
    """The text of ``key`` in ``locale`` (English when the locale is unknown); ``key``
    itself when it is not a catalog key (a service's own message)."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    text = pair[LANG.get(locale, 0)]
    return text.format(**values) if values else text

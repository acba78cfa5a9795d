"""Huifang configuration. Every setting can be overridden by an environment variable.

The embedded default is a SQLite file under ``instance/``; set ``DATABASE_URL`` for
PostgreSQL (``postgresql+psycopg://user@host/db``). The secret key comes from
``SECRET_KEY``; on the embedded default it is generated once and kept in ``instance/``.
"""
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("HUIFANG_INSTANCE_DIR", BASE_DIR / "instance"))


def _secret_key() -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key_file = INSTANCE_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


SECRET_KEY = _secret_key()
SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'huifang.db'}")
SQLALCHEMY_TRACK_MODIFICATIONS = False
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

APP_NAME = "回访 Huifang"
APP_THEME = ""
# Alembic owns the schema; roles and permissions are made by `flask huifang init`.
FAB_CREATE_DB = False
FAB_UPDATE_PERMS = _bool("FAB_UPDATE_PERMS", False)
AUTH_TYPE = 1  # AUTH_DB
AUTH_USER_REGISTRATION = False
AUTH_ROLE_ADMIN = "Admin"
AUTH_ROLE_PUBLIC = "Public"
FAB_API_SWAGGER_UI = True
FAB_ADD_SECURITY_API = False
FAB_API_MAX_PAGE_SIZE = 200
FAB_PASSWORD_HASH_METHOD = os.environ.get("FAB_PASSWORD_HASH_METHOD", "scrypt")
JWT_ACCESS_TOKEN_EXPIRES = int(os.environ.get("JWT_ACCESS_TOKEN_EXPIRES", 8 * 3600))
WTF_CSRF_ENABLED = _bool("WTF_CSRF_ENABLED", True)
RATELIMIT_ENABLED = False

BABEL_DEFAULT_LOCALE = os.environ.get("BABEL_DEFAULT_LOCALE", "zh")
BABEL_DEFAULT_FOLDER = str(BASE_DIR / "app" / "translations")
LANGUAGES = {
    "zh": {"flag": "cn", "name": "中文"},
    "en": {"flag": "gb", "name": "English"},
}
TIMEZONE = os.environ.get("HUIFANG_TIMEZONE", "Asia/Shanghai")
# Inbox: a task due within this many hours is highlighted as due soon.
HUIFANG_DUE_SOON_HOURS = int(os.environ.get("HUIFANG_DUE_SOON_HOURS", 48))

# Timer worker: how often an idle worker looks for due timers.
WORKER_POLL_SECONDS = float(os.environ.get("HUIFANG_WORKER_POLL_SECONDS", 5))

# NOTIFY: e-mail for notifications. An empty MAIL_SERVER turns e-mail off (in-app only).
MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
MAIL_PORT = int(os.environ.get("MAIL_PORT", 25))
MAIL_FROM = os.environ.get("MAIL_FROM", "huifang@localhost")
MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)  # STARTTLS after connecting
MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", 10))
# A failing message is retried with growing pauses, then left as failed for a person to look at.
MAIL_MAX_ATTEMPTS = int(os.environ.get("MAIL_MAX_ATTEMPTS", 5))
MAIL_RETRY_SECONDS = float(os.environ.get("MAIL_RETRY_SECONDS", 60))
# Where people open the app (e.g. https://huifang.example.com): links in e-mails become absolute.
PUBLIC_BASE_URL = os.environ.get("HUIFANG_PUBLIC_BASE_URL", "").rstrip("/")

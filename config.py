"""Settings classes, chosen by CLINIC_ENV. Nothing here raises at import; create_app() validates."""

import os


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    # At least 32 bytes outside testing. Signs the session cookie and CSRF tokens; rotating it
    # signs everyone out. Unset DATA_KEYS / AUDIT_KEY are derived from it (clinic_app/keys.py).
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # Fernet keys for two-factor seeds at rest, comma-separated, newest first (rotation).
    DATA_KEYS = os.environ.get("DATA_KEYS", "")
    # HMAC key of the audit hash chain; kept outside the database like SECRET_KEY.
    AUDIT_KEY = os.environ.get("AUDIT_KEY", "")
    # None means "SQLite file under instance/"; create_app() fills it in.
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    # Errors never echo query parameters (they can hold PHI) into logs or tracebacks.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "clinic_session"
    PERMANENT_SESSION_LIFETIME = 12 * 60 * 60
    # A nurse keeps a session page open through a 2-hour observation; the login session, not
    # the token age, bounds how long a form stays valid.
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = 1024 * 1024
    # argon2id parameters: RFC 9106 low-memory profile (argon2-cffi defaults), above OWASP ASVS 5.0
    # appendix C minimums (t=3 needs >= 12 MiB).
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST_KIB = 65536
    ARGON2_PARALLELISM = 4
    HSTS = False
    # Sign-in sessions (OWASP ASVS 7.3; NIST 800-63B AAL2): idle and absolute limits.
    IDLE_TIMEOUT_MINUTES = int(os.environ.get("IDLE_TIMEOUT_MINUTES", "15"))
    ABSOLUTE_TIMEOUT_HOURS = int(os.environ.get("ABSOLUTE_TIMEOUT_HOURS", "12"))
    # Per-account lockout after repeated failures, doubling from 1 minute up to the cap.
    LOCKOUT_AFTER_FAILURES = 5
    LOCKOUT_MAX_MINUTES = 60
    # Per-address limit on sign-in attempts; Redis shares it between gunicorn workers.
    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL", "memory://")
    LOGIN_RATE_LIMIT = "20 per minute"
    # Serve only on a migrated database. Trust this many reverse proxies for X-Forwarded-*: 0
    # unless the deployment sets it, so a client reaching gunicorn directly cannot forge them.
    REQUIRE_CURRENT_SCHEMA = True
    PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
    # Roles that must use two-factor sign-in unless the clinic setting says otherwise.
    MFA_REQUIRED_ROLES_DEFAULT: tuple[str, ...] = ()
    # Base of the FHIR export's fullUrls and of the clinic's own identifier and code systems
    # (MRN, MOAA/S and CADSS codes): the clinic's FHIR base URL (README, Getting records out).
    FHIR_BASE_URL = os.environ.get("FHIR_BASE_URL", "https://clinic.example/fhir").rstrip("/")


class DevelopmentConfig(Config):
    ENV_NAME = "development"


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    # Cheap hashing keeps the suite fast; production parameters are tested separately.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST_KIB = 1024
    ARGON2_PARALLELISM = 1
    RATELIMIT_ENABLED = False
    REQUIRE_CURRENT_SCHEMA = False  # tests build the schema with create_all
    # Tests freeze the clock anywhere in the day after signing in; the timeout tests set the
    # real limits themselves.
    IDLE_TIMEOUT_MINUTES = 48 * 60
    ABSOLUTE_TIMEOUT_HOURS = 48


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    # __Host- cookies are only accepted over HTTPS, for this host, on path /.
    SESSION_COOKIE_NAME = "__Host-clinic_session"
    HSTS = True
    MFA_REQUIRED_ROLES_DEFAULT = ("nurse", "psychiatrist", "front_desk", "admin")


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}

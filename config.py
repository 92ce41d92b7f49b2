"""Settings classes, chosen by CLINIC_ENV. Nothing here raises at import; create_app() validates."""

import os


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # None means "SQLite file under instance/"; create_app() fills it in.
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
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


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    HSTS = True


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}

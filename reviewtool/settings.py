"""Settings, read from the environment. Defaults serve local use (SQLite and a file broker under
``./var/``); production differs only in environment values."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from reviewtool.env import env_bool, env_choice, env_int, env_list, env_str, local_secret_key

# Lets admin.ModelAdmin[Model] and other generics be written at run time, as mypy wants.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("REVIEWTOOL_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", default=True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required when DEBUG=false")
    SECRET_KEY = local_secret_key(VAR_DIR)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "labeling",
    "activelearning",
    "enforcement",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "reviewtool.urls"
WSGI_APPLICATION = "reviewtool.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "labeling.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'reviewtool.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker read while one of them writes; IMMEDIATE makes every
    # transaction take the write lock up front, so a lease is never granted from a stale read.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "queue-list"
LOGOUT_REDIRECT_URL = "login"

# Security headers. Content under review is hostile: no inline script anywhere, nothing from
# another origin, media only as data.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 3600)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "reviewtool.exceptions.api_exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "reviewtool API",
    "DESCRIPTION": "Review queues, items, decisions and labels for trust & safety teams.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several apps have a "status" (or "source") choice field; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "ItemStatusEnum": "labeling.models.ItemStatus",
        "LabelSourceEnum": "labeling.models.LabelSource",
        "DecisionKindEnum": "labeling.models.DecisionKind",
        "QueueOrderEnum": "labeling.models.QueueOrder",
    },
}

# Celery, as its Django guide shows (namespace "CELERY"). Without a broker URL the embedded
# default is kombu's filesystem transport under var/: a real worker process, no server needed.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 900)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "labeling-refresh-all-queue-stats": {
        "task": "labeling.refresh_all_queue_stats",
        "schedule": 60.0,
    },
    "activelearning-retrain-all-due": {
        "task": "activelearning.retrain_all_due",
        "schedule": float(env_int("REVIEWTOOL_RETRAIN_SCHEDULE_SECONDS", 3600)),
    },
    "activelearning-fail-stale-runs": {
        "task": "activelearning.fail_stale_runs",
        "schedule": 300.0,
    },
}
# Embedding is heavy (a GPU-capable worker in production); it has a queue of its own.
CELERY_TASK_ROUTES = {
    "activelearning.embed_items": {"queue": "embedding"},
    "activelearning.process_media": {"queue": "media"},
}

# The machine loop. Retrain a policy after this many new labels (0 turns the trigger off);
# embed new items as they arrive; the text encoder ("" = the platform default).
# 25, not 50: a model that is a batch behind wastes queries while it is young. Measured on
# Davidson 3-class (al_simulate, margin, 10 seeds): retraining every 25 labels beats random in
# 8-9 of 10 seeds at 200-500 labels, every 50 in 5-8 (benchmarks/results/al_davidson_3class_head*);
# a retrain with 3,000 labels and a 100k-item rescore takes about a second.
REVIEWTOOL_RETRAIN_EVERY = env_int("REVIEWTOOL_RETRAIN_EVERY", 25)
REVIEWTOOL_EMBED_ON_INGEST = env_bool("REVIEWTOOL_EMBED_ON_INGEST", default=True)
# Extract text from newly attached media (OCR, speech to text) on the media workers.
REVIEWTOOL_PROCESS_MEDIA = env_bool("REVIEWTOOL_PROCESS_MEDIA", default=True)
# Speech is transcribed with a policy's domain language model once the policy has this many
# texts (labelled ones, topped up with its queues' item texts); below that, the general model.
REVIEWTOOL_ASR_LM_MIN_TEXTS = env_int("REVIEWTOOL_ASR_LM_MIN_TEXTS", 200)
REVIEWTOOL_TEXT_ENCODER = env_str("REVIEWTOOL_TEXT_ENCODER", "")
# Policies whose queues hold media train on the multimodal encoder (False: text encoder only);
# the OCR engine ("" = tesseract where installed, else RapidOCR) and the speech-to-text engine.
REVIEWTOOL_MULTIMODAL = env_bool("REVIEWTOOL_MULTIMODAL", default=True)
REVIEWTOOL_OCR_ENGINE = env_str("REVIEWTOOL_OCR_ENGINE", "")
REVIEWTOOL_ASR_ENGINE = env_str("REVIEWTOOL_ASR_ENGINE", "pocketsphinx")
# How MiniLM runs ("" = the platform default: ONNX Runtime int8 where onnxruntime and onnx are
# installed, else torch), and where its one-time ONNX export is kept. An encoder rebuilt from a
# model artifact keeps its own backend and finds the cache from the same environment variables.
REVIEWTOOL_MINILM_BACKEND = env_choice(
    "REVIEWTOOL_MINILM_BACKEND", ("torch", "onnx-int8", "onnx-fp32"), default=""
)
REVIEWTOOL_ONNX_CACHE = Path(env_str("REVIEWTOOL_ONNX_CACHE", str(VAR_DIR / "cache" / "onnx")))
REVIEWTOOL_PROMOTION_TOLERANCE = float(env_str("REVIEWTOOL_PROMOTION_TOLERANCE", "0.02"))
REVIEWTOOL_MODEL_DIR = Path(env_str("REVIEWTOOL_MODEL_DIR", str(VAR_DIR / "models")))
# Dataset exports requested through the API or the web page (manage.py export_dataset takes --out).
REVIEWTOOL_EXPORT_DIR = Path(env_str("REVIEWTOOL_EXPORT_DIR", str(VAR_DIR / "exports")))
# Golden answers a reviewer needs on a policy before a low accuracy raises a quality alert.
REVIEWTOOL_GOLDEN_MIN_ANSWERS = env_int("REVIEWTOOL_GOLDEN_MIN_ANSWERS", 5)

REVIEWTOOL_DATASETS = Path(
    env_str("REVIEWTOOL_DATASETS", str((BASE_DIR.parent / "shared" / "datasets").resolve()))
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

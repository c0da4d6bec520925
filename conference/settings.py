"""Settings for the conference project, read from the environment (12-factor).

Every knob is an environment variable so one build runs in development, CI and production;
secrets come only from the environment. The defaults are the embedded ones (DEBUG, SQLite, the
in-memory channel layer) so `make run` works on a fresh machine with nothing configured.
The README's configuration table lists every variable read here.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean: 1/true/yes/on are true, 0/false/no/off/empty are false."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Read an integer and check its range, so a typo fails at start-up rather than later."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ImproperlyConfigured(f"{name}={value} is outside [{minimum}, {maximum}]")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated list; blanks are dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# --- Core -------------------------------------------------------------------------------------

# DEBUG defaults to on so the README's `make run` works with no configuration; production sets
# DEBUG=0 and must then provide SECRET_KEY and ALLOWED_HOSTS.
DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    # A fresh key per process: sessions do not survive a restart in development, and no
    # development secret is ever written into the repository.
    SECRET_KEY = get_random_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "axes",
    "meetings",
    "rtc",
    "integrations",
    "collab",
    "recordings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A database outage raised by a view answers 503 + Retry-After, code `unavailable`.
    "conference.outage.OutageMiddleware",
    # Last, as django-axes asks: turns a refused sign-in into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "conference.urls"
ASGI_APPLICATION = "conference.asgi.application"

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------

# PostgreSQL (or anything dj-database-url parses) when DATABASE_URL is set, SQLite otherwise.
# PostgreSQL goes through Django's own connection pool (psycopg_pool; DB_POOL=0 turns it off),
# as Django advises under ASGI, where views run on several threads: opening a connection for
# every trip to Channels' database thread made rtc:join queue for seconds at 40 peers/s
# (bench/signaling.py: join p50 2.2 s without reuse, 0.15 s with it). Other servers close the
# connection after each request unless DB_CONN_MAX_AGE says otherwise. An SQLite "connection"
# is a file handle, reopened for every database call at age 0 (about a tenth of the database
# thread's time), so the embedded default keeps it for a minute.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_health_checks=True)
}
_ENGINE = DATABASES["default"]["ENGINE"]
DATABASES["default"]["CONN_MAX_AGE"] = env_int(
    "DB_CONN_MAX_AGE", 60 if _ENGINE == "django.db.backends.sqlite3" else 0, minimum=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if _ENGINE == "django.db.backends.postgresql":
    # The same backend, failing at once while the database is known to be down.
    DATABASES["default"]["ENGINE"] = "conference.postgres"

DB_POOL = env_bool("DB_POOL", True)
if _ENGINE == "django.db.backends.postgresql" and DB_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # a pooled connection goes back to the pool
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 2, minimum=0),
        "max_size": env_int("DB_POOL_MAX_SIZE", 10, minimum=1),
        "timeout": env_int("DB_POOL_TIMEOUT", 10, minimum=1),  # seconds to wait for one
    }

# Threads running the meeting sockets' database calls (conference.db_threads), each with its
# own connection: on PostgreSQL as many as the pool holds; on SQLite 0, i.e. Channels' single
# database thread (SQLite has one writer at a time; a second thread only waits on its lock).
if _ENGINE == "django.db.backends.postgresql":
    _DB_THREADS_DEFAULT = DATABASES["default"].get("OPTIONS", {}).get("pool", {}).get(
        "max_size", 4)
else:
    _DB_THREADS_DEFAULT = 0
DB_THREADS = env_int("DB_THREADS", _DB_THREADS_DEFAULT, minimum=0, maximum=64)

if _ENGINE == "django.db.backends.sqlite3":
    # Several threads write at once (Channels' database thread, the webhook dispatcher):
    # wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20)
    # Write-ahead log (readers never block the writer, nor it them) and, by default, no fsync
    # per commit (synchronous=NORMAL): in rollback-journal mode every commit waited for the
    # disk (13 ms each here), and a burst of 200 joins spent most of its time in commits
    # (bench/README.md, "burst"). A commit is still durable if the process dies; only an
    # operating-system crash or power loss may lose the last commits. SQLITE_SYNCHRONOUS=FULL
    # keeps those too (one fsync per commit). Set on every new connection (Django's
    # init_command); the WAL mode itself is a property of the file and stays.
    SQLITE_SYNCHRONOUS = os.environ.get("SQLITE_SYNCHRONOUS", "NORMAL").upper()
    if SQLITE_SYNCHRONOUS not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ImproperlyConfigured("SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA")
    DATABASES["default"]["OPTIONS"]["init_command"] = (
        f"PRAGMA journal_mode=WAL;PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    # The test database is a file too: SQLite's shared in-memory database locks whole tables
    # and fails at once ("database table is locked") where a file database waits.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"conference-test-{os.getpid()}.sqlite3")
    }

# --- Garbage collector ------------------------------------------------------------------------

# How often the server process (conference.asgi) runs the cycle collector's full collection:
# once every GC_FULL_EVERY collections of the middle generation (CPython's default is 10). A
# full collection walks every object of the calls and stalls the whole process: in a burst of
# 200 call set-ups it came once, 25-42 ms, and with the young ones took 55-60 ms of the event
# loop's first 500 ms; at 100 none fell in the burst and the collector took 26-28 ms
# (bench/README.md, "Session 14"). Cycles left by the calls are still collected, ten times
# less often (the young generations, where most of them die, are unchanged).
GC_FULL_EVERY = env_int("GC_FULL_EVERY", 100, minimum=1)

# --- Listening socket ------------------------------------------------------------------------

# The listen queue daphne's TCP sockets ask for (conference.listen_backlog; Twisted's own is
# 50): a meeting's start opens hundreds of connections in the same second, and a handshake the
# queue cannot hold is dropped and retried by the client a second later. The kernel caps it at
# net.core.somaxconn.
LISTEN_BACKLOG = env_int("LISTEN_BACKLOG", 1024, minimum=1)

# --- Channel layer ----------------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")
# Connections per process and pool to Redis, and the seconds a command waits for a free one
# (channel layer and every other Redis client, conference.redis_clients).
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 50, minimum=2)
REDIS_POOL_TIMEOUT = env_int("REDIS_POOL_TIMEOUT", 10, minimum=1)
# Connections of each of those pools opened when the server starts, not by the first burst's
# commands (conference.redis_clients.open_ahead); 0 opens them as commands need them.
REDIS_CONNECTIONS_AHEAD = env_int("REDIS_CONNECTIONS_AHEAD", 32, minimum=0)
# Messages one channel (a socket) may hold before the layer drops them (Channels' default is
# 100: a socket of a busy 100-person call fell that far behind in 8 s of CPU starvation and lost
# events). A socket that still loses some is told to fetch the state again (events:missed).
CHANNEL_CAPACITY = env_int("CHANNEL_CAPACITY", 1000, minimum=10)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis with pools that wait for a connection (its own refuse one beyond
            # 100 in use, which lost sockets in a burst), delivering in process what stays here.
            "BACKEND": "conference.channel_layers.RedisChannelLayer",
            "CONFIG": {
                # A read timeout above channels-redis' 5 s blocking pop: redis-py 8 otherwise
                # reads with a 5 s timeout and an idle socket's receive fails (1011) at 5 s.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15,
                           "socket_connect_timeout": 5}],
                # Separates deployments (and test runs) sharing one Redis database.
                "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "conference"),
                "max_connections": REDIS_MAX_CONNECTIONS,
                "pool_timeout": REDIS_POOL_TIMEOUT,
                "capacity": CHANNEL_CAPACITY,
            },
        }
    }
else:
    # Single process only: groups do not reach other processes.
    CHANNEL_LAYERS = {"default": {"BACKEND": "conference.channel_layers.InMemoryChannelLayer",
                                  "CONFIG": {"capacity": CHANNEL_CAPACITY}}}

# --- Cluster (rtc/cluster) --------------------------------------------------------------------

# With Redis, every server process is a node of one meeting service: it registers itself in
# Redis under a lease it renews, each meeting's call is owned by one node, and sockets on other
# nodes are relayed to it. CLUSTER=0 keeps the old one-process-per-deployment behaviour.
CLUSTER = {
    "ENABLED": bool(REDIS_URL) and env_bool("CLUSTER", True),
    # A stable name for the node (host name, pod name); empty: host-pid-random, unique per start.
    "NODE_ID": os.environ.get("NODE_ID", "").strip(),
    # Seconds a node (and the calls it owns) outlives its last heartbeat.
    "LEASE_SECONDS": env_int("CLUSTER_LEASE_SECONDS", 3, minimum=2, maximum=60),
    # Seconds a relayed request waits for the owning node's answer.
    "RELAY_TIMEOUT_SECONDS": env_int("CLUSTER_RELAY_TIMEOUT_SECONDS", 10, minimum=1,
                                     maximum=120),
    # Seconds the owner of a cascaded call waits for another node's media operation (a peer's
    # set-up, or the call's spread lock while a node is claimed, waits that long at most).
    "CASCADE_TIMEOUT_SECONDS": env_int("CLUSTER_CASCADE_TIMEOUT_SECONDS", 3, minimum=1,
                                       maximum=120),
    # Seconds a draining node (SIGTERM) waits for its calls to move before it exits.
    "DRAIN_SECONDS": env_int("CLUSTER_DRAIN_SECONDS", 5, minimum=0, maximum=600),
    # The node's own base URL for operators (the live view links to it); optional.
    "NODE_URL": os.environ.get("NODE_URL", "").strip(),
}
if CLUSTER["NODE_ID"] and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", CLUSTER["NODE_ID"]):
    raise ImproperlyConfigured("NODE_ID must be 1-64 letters, digits, '.', '_' or '-'")

# --- mediasoup --------------------------------------------------------------------------------

MEDIASOUP = {
    # Worker processes in the pool, one per core by default.
    "WORKER_NUM": env_int("MEDIASOUP_WORKER_NUM", os.cpu_count() or 1, minimum=1, maximum=256),
    # Address the workers bind RTC sockets to.
    "LISTEN_IP": os.environ.get("MEDIASOUP_LISTEN_IP", "127.0.0.1"),
    # Address announced in ICE candidates (public IP behind NAT); None announces LISTEN_IP.
    "ANNOUNCED_IP": os.environ.get("MEDIASOUP_ANNOUNCED_IP") or None,
    "RTC_MIN_PORT": env_int("MEDIASOUP_RTC_MIN_PORT", 40000, minimum=1024, maximum=65535),
    "RTC_MAX_PORT": env_int("MEDIASOUP_RTC_MAX_PORT", 49999, minimum=1024, maximum=65535),
    # Path of the mediasoup-worker binary; None means the cached build of mediasoup-ctl-worker.
    "WORKER_BIN": os.environ.get("MEDIASOUP_WORKER_BIN") or None,
    "LOG_LEVEL": os.environ.get("MEDIASOUP_LOG_LEVEL", "warn"),
    # When set, worker i of the pool gets a WebRtcServer on UDP+TCP port base+i and every call
    # transport shares it (one port per worker to open in the firewall); None: a port each.
    "WEBRTC_SERVER_PORT": (
        env_int("MEDIASOUP_WEBRTC_SERVER_PORT", 0, minimum=1, maximum=65535)
        if os.environ.get("MEDIASOUP_WEBRTC_SERVER_PORT", "").strip() else None),
}
if MEDIASOUP["RTC_MIN_PORT"] > MEDIASOUP["RTC_MAX_PORT"]:
    raise ImproperlyConfigured("MEDIASOUP_RTC_MIN_PORT must not exceed MEDIASOUP_RTC_MAX_PORT")

# --- Call limits ------------------------------------------------------------------------------

# Each limit of rtc.services.config.RtcLimits from `RTC_<NAME>` (e.g. RTC_MAX_PEERS_PER_MEETING);
# a variable left unset keeps the default written there, so the defaults live in one place.
# Counts must be at least 1; the two durations may be 0 (no reconnect grace, no DTLS deadline).
_RTC_LIMIT_MINIMUMS = {
    "MAX_PEERS_PER_MEETING": 1,
    "MAX_TRANSPORTS_PER_PEER": 1,
    "MAX_PRODUCERS_PER_PEER": 1,
    "MAX_CONSUMERS_PER_PEER": 1,
    "MAX_PRODUCERS_PER_MEETING": 1,
    "MAX_ROOMS_PER_WORKER": 1,
    "SPARE_ROUTERS_PER_WORKER": 0,
    "PEERS_PER_ROUTER": 1,
    "PEERS_PER_NODE": 0,  # 0: a call never cascades to another node
    "REQUESTS_PER_SECOND": 1,
    "REQUEST_BURST": 1,
    "RECONNECT_GRACE_SECONDS": 0,
    "TRANSPORT_CONNECT_TIMEOUT_SECONDS": 0,
    "MAX_SOCKETS_PER_USER": 0,  # 0: unlimited
    "MAX_SOCKETS_PER_ADDRESS": 0,
    "MAX_PENDING_CONNECTS": 1,
}
RTC_LIMITS = {
    name: env_int(f"RTC_{name}", 0, minimum=minimum)
    for name, minimum in _RTC_LIMIT_MINIMUMS.items()
    if os.environ.get(f"RTC_{name}", "").strip()
}
# Largest text frame the meeting socket accepts, in characters; larger ones get an `invalid`
# error reply (the socket stays open).
RTC_MAX_MESSAGE_CHARS = env_int("RTC_MAX_MESSAGE_CHARS", 64 * 1024, minimum=1024,
                                maximum=1024 * 1024)
# Check every reply and event a meeting socket sends against its declared model and refuse
# (raise on) one that does not fit (rtc/signaling/outgoing.py). For the tests; off in production.
SIGNALING_CHECK_OUTGOING = env_bool("SIGNALING_CHECK_OUTGOING", False)

# --- In-call chat, hands, reactions, whiteboard (collab/config.py) ---------------------------

CHAT_MAX_CHARS = env_int("CHAT_MAX_CHARS", 2000, minimum=1, maximum=20_000)
CHAT_MESSAGES_PER_SECOND = env_int("CHAT_MESSAGES_PER_SECOND", 1, minimum=1, maximum=100)
CHAT_BURST = env_int("CHAT_BURST", 5, minimum=1, maximum=1000)
CHAT_HISTORY_LIMIT = env_int("CHAT_HISTORY_LIMIT", 500, minimum=1, maximum=10_000)
REACTIONS_PER_SECOND = env_int("REACTIONS_PER_SECOND", 1, minimum=1, maximum=100)
REACTION_BURST = env_int("REACTION_BURST", 5, minimum=1, maximum=1000)
WHITEBOARD_OPS_PER_SECOND = env_int("WHITEBOARD_OPS_PER_SECOND", 10, minimum=1, maximum=1000)
WHITEBOARD_BURST = env_int("WHITEBOARD_BURST", 30, minimum=1, maximum=10_000)
WHITEBOARD_MAX_ELEMENT_BYTES = env_int("WHITEBOARD_MAX_ELEMENT_BYTES", 32 * 1024,
                                       minimum=1024, maximum=1024 * 1024)
WHITEBOARD_MAX_ELEMENTS = env_int("WHITEBOARD_MAX_ELEMENTS", 5000, minimum=1, maximum=100_000)
WHITEBOARD_MAX_BYTES = env_int("WHITEBOARD_MAX_BYTES", 4 * 1024 * 1024, minimum=1024,
                               maximum=256 * 1024 * 1024)

# --- TURN (for clients behind strict NAT; see rtc/policy/turn.py and the README) ----------------

TURN = {
    # e.g. turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349?transport=tcp
    "URLS": env_list("TURN_URLS", []),
    # coturn's static-auth-secret: clients get short-lived credentials derived from it.
    "SECRET": os.environ.get("TURN_SECRET", ""),
    "TTL": env_int("TURN_TTL", 86400, minimum=60, maximum=7 * 86400),
}

# --- Auth, API --------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out sign-in before any password is checked; it has no
# get_user, so sessions keep naming ModelBackend.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: unauthenticated requests then get 401 with `WWW-Authenticate: Token`.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "conference.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "conference API",
    "DESCRIPTION": "Meetings, participants and attendance. Real-time media runs over "
    "the WebSocket /ws/meetings/<id>/.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status` field with choices of their own: name each enum.
    "ENUM_NAME_OVERRIDES": {
        "MeetingStatusEnum": "meetings.models.MeetingStatus",
        "RecordingStatusEnum": "recordings.models.RecordingStatus",
        "LobbyStatusEnum": "collab.models.LobbyStatus",
        "WebhookStatusEnum": "integrations.models.WebhookStatus",
    },
}

# --- Sign-in throttling (django-axes; conference/login_throttle.py, SECURITY.md) ---------------

# A username that fails to sign in LOGIN_FAILURE_LIMIT times from one client address is refused
# from that address for LOGIN_COOLOFF_MINUTES after its last counted failure, on the login form,
# the admin's login and POST /api/auth/token/ (429). A successful sign-in clears its count;
# other usernames and other addresses are not affected. Staff clear lockouts in the admin
# (Axes > Access attempts) or with `manage.py axes_reset_ip_username <address> <username>`.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
AXES_COOLOFF_TIME = timedelta(
    minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1, maximum=7 * 24 * 60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Attempts refused during a lockout are not counted, so the cool-off ends when it says it does.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "conference.login_throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "conference.login_throttle.client_ip_address"
# Failures only: a row per successful sign-in (and a session per API token) is not kept.
AXES_DISABLE_ACCESS_LOG = True
# The client address is REMOTE_ADDR. Behind LOGIN_TRUSTED_PROXY_COUNT reverse proxies that each
# append the address they saw to LOGIN_CLIENT_IP_HEADER, it is that header's entry written by
# the outermost trusted proxy (the N-th from the right); anything left of it is the client's
# own say and never trusted. 0 (the default): the header is ignored.
LOGIN_TRUSTED_PROXY_COUNT = env_int("LOGIN_TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)
LOGIN_CLIENT_IP_HEADER = os.environ.get("LOGIN_CLIENT_IP_HEADER", "X-Forwarded-For").strip()
if not re.fullmatch(r"[A-Za-z0-9-]+", LOGIN_CLIENT_IP_HEADER):
    raise ImproperlyConfigured(
        f"LOGIN_CLIENT_IP_HEADER must be an HTTP header name, got {LOGIN_CLIENT_IP_HEADER!r}")

# --- Integrations (join tokens, live-room API, webhooks) --------------------------------------

# Fernet key(s) encrypting integration secrets at rest, comma-separated (the first encrypts, all
# decrypt: rotation). Empty: a key derived from SECRET_KEY, so changing SECRET_KEY then makes
# the stored secrets unreadable (their integrations must be re-created).
INTEGRATIONS_ENCRYPTION_KEY = os.environ.get("INTEGRATIONS_ENCRYPTION_KEY", "")
INTEGRATIONS = {
    # Longest join token accepted (exp - iat), in seconds.
    "TOKEN_MAX_LIFETIME": env_int("INTEGRATIONS_TOKEN_MAX_LIFETIME", 86400, minimum=60),
    # Clock skew tolerated on exp/iat/nbf, in seconds.
    "TOKEN_LEEWAY": env_int("INTEGRATIONS_TOKEN_LEEWAY", 10, minimum=0, maximum=300),
    # Delivery attempts per webhook event before it is marked failed.
    "WEBHOOK_MAX_ATTEMPTS": env_int("INTEGRATIONS_WEBHOOK_MAX_ATTEMPTS", 8, minimum=1),
    # Seconds one webhook POST may take.
    "WEBHOOK_TIMEOUT": env_int("INTEGRATIONS_WEBHOOK_TIMEOUT", 10, minimum=1, maximum=120),
    # Plain http:// webhook URLs are allowed only to loopback hosts, and only when this is on.
    "WEBHOOK_ALLOW_HTTP_LOOPBACK": env_bool("INTEGRATIONS_WEBHOOK_ALLOW_HTTP_LOOPBACK", DEBUG),
    # Deliver from a background thread of the ASGI process; off: `manage.py deliver_webhooks`.
    "WEBHOOK_DISPATCHER": env_bool("INTEGRATIONS_WEBHOOK_DISPATCHER", True),
    # Seconds a process remembers that a meeting belongs to no integration (integrations.events).
    "UNLINKED_CACHE_SECONDS": env_int("INTEGRATIONS_UNLINKED_CACHE_SECONDS", 5, minimum=0,
                                      maximum=3600),
}

# --- Security (check --deploy is clean when DEBUG=0 with the defaults below) -------------------

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- Internationalisation, static -------------------------------------------------------------

LANGUAGE_CODE = "en-us"
# The web UI in English and Simplified Chinese (the original requirement is Chinese); the
# browser's Accept-Language picks one, the language menu (set_language) overrides it.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [path for path in [BASE_DIR / "static"] if path.is_dir()]
# daphne does not serve static files; asgi.py wraps the HTTP app when this is on.
SERVE_STATIC = env_bool("SERVE_STATIC", DEBUG)

# Attendance leaves that could not be written while the database was unavailable wait in a file
# of the process's own here until written; a process starting adopts the files of stopped ones
# (rtc.policy.attendance.LateLeaves). Local to each machine; keep it on persistent disk.
LATE_LEAVES_DIR = Path(os.environ.get("LATE_LEAVES_DIR", str(BASE_DIR / "var" / "late-leaves")))

# --- Recording -------------------------------------------------------------------------------

# Track files are written on the node that records a call (RECORDING_WORK_DIR) and kept until
# the composed file is stored; composed files go to the "recordings" storage: the file system
# under MEDIA_ROOT by default, or any Django storage backend (e.g. django-storages' S3Storage
# for S3-compatible storage) named by RECORDING_STORAGE_BACKEND with RECORDING_STORAGE_OPTIONS
# (a JSON object of the backend's options).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"
RECORDING = {
    "WORK_DIR": Path(os.environ.get("RECORDING_WORK_DIR", str(BASE_DIR / "recordings-work"))),
    "MAX_DURATION_SECONDS": env_int("RECORDING_MAX_DURATION_SECONDS", 4 * 3600, minimum=10),
    "RETENTION_DAYS": env_int("RECORDING_RETENTION_DAYS", 30, minimum=0),
    "FORMAT": os.environ.get("RECORDING_FORMAT", "webm").strip().lower(),
    "WIDTH": env_int("RECORDING_WIDTH", 1280, minimum=160, maximum=3840),
    "HEIGHT": env_int("RECORDING_HEIGHT", 720, minimum=90, maximum=2160),
    "MIN_FREE_MB": env_int("RECORDING_MIN_FREE_MB", 200, minimum=0),
    "COMPOSE_TIMEOUT_SECONDS": env_int("RECORDING_COMPOSE_TIMEOUT_SECONDS", 3600, minimum=10),
    # Names the disk the track files are on: the node that composes them (after a restart
    # too). The cluster's NODE_ID when set, else the host name.
    "NODE": (os.environ.get("RECORDING_NODE", "").strip() or CLUSTER["NODE_ID"]
             or socket.gethostname()),
}
if RECORDING["FORMAT"] not in {"webm", "mp4"}:
    raise ImproperlyConfigured("RECORDING_FORMAT must be webm or mp4")
try:
    _recording_storage_options = json.loads(os.environ.get("RECORDING_STORAGE_OPTIONS") or "{}")
except ValueError:
    raise ImproperlyConfigured("RECORDING_STORAGE_OPTIONS must be a JSON object") from None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "recordings": {
        "BACKEND": os.environ.get("RECORDING_STORAGE_BACKEND",
                                  "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": _recording_storage_options or {"location": str(MEDIA_ROOT / "recordings")},
    },
}

# --- Operations: metrics and probes -------------------------------------------------------------

# /metrics answers `Authorization: Bearer <METRICS_TOKEN>` and staff sessions (only staff
# sessions while it is unset). A secret: from the environment only.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Seconds a media stats sample (bytes, packet loss, worker CPU) serves /metrics scrapes before
# a scrape takes a new one (0: every scrape samples).
METRICS_STATS_MAX_AGE = env_int("METRICS_STATS_MAX_AGE", 5, minimum=0)
# Load balancers and Prometheus probe over plain HTTP on the private side: no HTTPS redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- Logging ----------------------------------------------------------------------------------

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
# `json`: one JSON object per line (python-json-logger) with the meeting_id/peer_id/user_id of
# the connection being served when known (conference.log_context); `plain`: text lines.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "conference.log_context.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "conference.log_context.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {
            "handlers": ["console"],
            "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO"),
            "propagate": False,
        },
    },
}

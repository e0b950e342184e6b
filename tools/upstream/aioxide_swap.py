"""pytest plugin: run aiohttp's own client tests with aioxide as the client
(tools/upstream/run.sh; README.md there).

Servers stay real aiohttp (aiohttp.web / aiohttp.test_utils.TestServer).
Only the public names in the `aiohttp` package namespace, the ClientSession
that aiohttp.test_utils.TestClient instantiates, and the client names each
test module bound at import time are replaced with aioxide's.  A class a
test module derives from a swapped aiohttp class is defined again on
aioxide's.  Environment: AIOXIDE_SWAP_KEEP (names left aiohttp's, e.g.
WSMsgType), AIOXIDE_MOD_MAP ("aiohttp.x=aioxide.y,..."), AIOXIDE_STREAMS_SHIM=1
(aiohttp's StreamReader constructor over aioxide's, for tests/test_streams.py).
"""
import inspect
import sys
import types

import aiohttp
# import every server-side / test-support module first so their
# `from . import X` bindings keep aiohttp's objects
import aiohttp.web  # noqa
import aiohttp.test_utils  # noqa
import aiohttp.client_exceptions  # noqa

import os
import aioxide
import aioxide.abc, aioxide.client, aioxide.client_exceptions, aioxide.client_reqrep  # noqa
import aioxide.connector, aioxide.cookiejar, aioxide.payload, aioxide.client_ws  # noqa
import aioxide.client_middleware_digest_auth, aioxide.client_middlewares  # noqa
import aioxide.tracing, aioxide.helpers, aioxide.http, aioxide.formdata, aioxide.resolver  # noqa
import aioxide.streams, aioxide.multipart  # noqa
for _m in os.environ.get('AIOXIDE_EXTRA_MODS', '').split(','):
    if _m:
        __import__('aioxide.' + _m)

# names the servers in the tests use (handlers build responses with them)
import os
SERVER_SIDE = {"JsonPayload"} | set(filter(None, os.environ.get("AIOXIDE_SWAP_KEEP", "").split(",")))

SWAPPED = {}
for name in dir(aioxide):
    if name.startswith("_") or name in SERVER_SIDE:
        continue
    new = getattr(aioxide, name)
    if isinstance(new, types.ModuleType):
        continue
    old = getattr(aiohttp, name, None)
    if old is None or isinstance(old, types.ModuleType):
        continue
    setattr(aiohttp, name, new)
    SWAPPED[name] = (old, new)

aiohttp.test_utils.ClientSession = aioxide.ClientSession

# test-module globals: aiohttp submodule -> aioxide submodule
MOD_MAP = {}
for modname, mod in list(sys.modules.items()):
    if modname.startswith("aioxide.") and modname.count(".") == 1:
        MOD_MAP["aiohttp." + modname.split(".", 1)[1]] = mod
if os.environ.get("AIOXIDE_STREAMS_SHIM"):  # opt-in constructor adapter
    import aioxide_streams_shim
    MOD_MAP["aiohttp.streams"] = aioxide_streams_shim
for _pair in filter(None, os.environ.get("AIOXIDE_MOD_MAP", "").split(",")):  # "aiohttp.x=aioxide.y"
    _a, _b = _pair.split("=")
    __import__(_b)
    MOD_MAP[_a] = sys.modules[_b]
KEEP_MODULES = {"aiohttp.hdrs", "aiohttp.web", "aiohttp.test_utils",
                "aiohttp.pytest_plugin", "aiohttp.typedefs"}
_patched_modules = set()
SWAP_LOG = {}
_OLD_IDS = set()


def _aioxide_equiv(name, val):
    mod = getattr(val, "__module__", None) or ""
    if not mod.startswith("aiohttp"):
        return None
    if mod.startswith("aiohttp.web") or mod in KEEP_MODULES or mod.startswith("aiohttp.test_utils") or mod.startswith("aiohttp.pytest_plugin"):
        return None
    if name in SERVER_SIDE:
        return None
    if name in SWAPPED and SWAPPED[name][0] is val:
        return SWAPPED[name][1]
    target = MOD_MAP.get(mod)
    real = getattr(val, "__name__", name)
    for cand in (target, aioxide):
        if cand is not None and hasattr(cand, real):
            return getattr(cand, real)
    return None


def patch_module_globals(mod):
    if mod.__name__ in _patched_modules:
        return
    _patched_modules.add(mod.__name__)
    log = []
    for gname, val in list(vars(mod).items()):
        if gname.startswith("__"):
            continue
        if isinstance(val, types.ModuleType):
            if val.__name__ in MOD_MAP and val.__name__ not in KEEP_MODULES:
                setattr(mod, gname, MOD_MAP[val.__name__])
                log.append(f"{gname}: module {val.__name__} -> {MOD_MAP[val.__name__].__name__}")
            continue
        if not (inspect.isclass(val) or inspect.isfunction(val) or hasattr(val, "__module__")):
            continue
        new = _aioxide_equiv(gname, val)
        if new is not None and new is not val:
            _OLD_IDS.add(id(val))
            setattr(mod, gname, new)
            log.append(f"{gname}: {getattr(val,'__module__','?')} -> {getattr(new,'__module__','?')}")
    # classes the test module defines on top of a swapped aiohttp class:
    # re-run their definition so they subclass aioxide's
    swapped_olds = {id(o) for o, n in SWAPPED.values()} | set(_OLD_IDS)
    for gname, val in list(vars(mod).items()):
        if inspect.isclass(val) and val.__module__ == mod.__name__:
            if any(id(b) in swapped_olds for b in val.__bases__):
                src = inspect.getsource(val)
                exec(compile(src, mod.__file__, "exec"), mod.__dict__)
                log.append(f"{gname}: class redefined on aioxide base")
    SWAP_LOG[mod.__name__] = log


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        mod = getattr(item, "module", None)
        if mod is not None and mod.__name__.startswith(("test_", "tests.")):
            patch_module_globals(mod)
        cs = getattr(item, "callspec", None)
        if cs is not None:
            for k, v in list(cs.params.items()):
                if inspect.isclass(v):
                    new = _aioxide_equiv(v.__name__, v)
                    if new is not None and new is not v:
                        cs.params[k] = new


def pytest_report_header(config):
    return [f"aioxide swap: {len(SWAPPED)} aiohttp names -> aioxide ({aioxide.__file__})",
            f"aiohttp from {aiohttp.__file__}"]


def pytest_terminal_summary(terminalreporter):
    if terminalreporter.config.getoption("verbose") > 0:
        for m, log in SWAP_LOG.items():
            terminalreporter.write_line(f"[swap] {m}: " + "; ".join(log))

"""Restyle for Krita: repaint a layer in the style of other layers, on a local server.

Outside Krita (the unit tests of the pure modules) there is nothing to register.  When
Krita's Python lacks pyzmq or msgpack, the docker still appears and says how to fix it,
instead of the plugin failing to load with nothing visible to the user.
"""

try:
    from krita import Krita
except ImportError:
    Krita = None

if Krita is not None:
    try:
        import msgpack  # noqa: F401
        import zmq  # noqa: F401
    except ImportError as exc:
        from .missing import register_missing

        register_missing(str(exc))
    else:
        from .plugin import register

        register()

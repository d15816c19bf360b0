"""``rnnlab serve``: start the local web app (FastAPI + uvicorn) and print its address.

Binds 127.0.0.1 by default.  The bundled default model is loaded at start (if this installation
has one); ``--model PATH`` adds checkpoints or run folders (repeatable) and ``--models-dir DIR``
every checkpoint and run folder in a folder (default: ``./runs`` when it exists, where
``rnnlab train`` writes), each listed in the page by id.
"""

from __future__ import annotations

HELP = "Start the interactive web app (RNN visualizer, text generation) on this machine."


def add_arguments(p) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    p.add_argument("--open", action="store_true", help="open the page in a web browser once the server is ready")
    p.add_argument("--model", action="append", default=[], metavar="PATH",
                   help="a char-LM checkpoint (.safetensors) or a run folder of `rnnlab train`; repeat for several")
    p.add_argument("--models-dir", metavar="DIR",
                   help="list every checkpoint and run folder in this folder (default: ./runs if it exists)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests addressed to this host name (repeatable; loopback always works)")
    p.add_argument("--no-default-model", action="store_true", help="do not load the bundled default model")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"],
                   help="server log level (default: warning)")


def resolve_models(args):
    """(the --model checkpoints, run folders resolved to their model; the models folder or None), or a UserError."""
    from pathlib import Path

    from rnnlab.cli.main import UserError
    from rnnlab.io import checkpoint_file

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, got {args.port}")
    models = []
    for path in args.model:
        p = checkpoint_file(path)
        if not p.is_file():
            raise UserError(f"--model {path}: no such file (or run folder with a model.safetensors)")
        models.append(p)
    models_dir = Path("runs") if Path("runs").is_dir() else None
    if args.models_dir:
        models_dir = Path(args.models_dir).expanduser()
        if not models_dir.is_dir():
            raise UserError(f"--models-dir {args.models_dir}: no such folder")
    return tuple(models), models_dir


def run(args) -> int:
    import socket
    import sys
    import threading
    import webbrowser

    import uvicorn

    from rnnlab.cli.main import UserError
    from rnnlab.server.app import create_app
    from rnnlab.server.limits import UVICORN_WS_MAX_SIZE, return_freed_memory_to_the_system
    from rnnlab.server.security import with_token
    from rnnlab.server.settings import Settings

    models, models_dir = resolve_models(args)
    return_freed_memory_to_the_system()  # memory taken by a burst of clients goes back afterwards
    try:  # fail early, with a clear message, when the port is taken
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        probe = socket.socket(family, socket.SOCK_STREAM)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        probe.bind((args.host, args.port))
        port = probe.getsockname()[1]
        probe.close()
    except OSError as e:
        raise UserError(f"cannot listen on {args.host}:{args.port} ({e.strerror or e}); try another --port") from None

    base = Settings(host=args.host, port=port, models=models, models_dir=models_dir,
                    allowed_hosts=tuple(args.allow_host))
    settings = Settings(**{**base.__dict__, "default_model": None}) if args.no_default_model else base
    settings = with_token(settings)  # bound off loopback: a fresh token, required from every client
    url = settings.url + (f"?token={settings.token}" if settings.token else "")
    app = create_app(settings)
    listing = app.state.models.list()
    if settings.token is not None:
        print(f"warning: listening on {args.host}: other machines on the network can reach this server; "
              f"every request must carry the token (open the address below, or send "
              f"'Authorization: token {settings.token}')", file=sys.stderr)

    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=port, log_level=args.log_level,
                                           ws_max_size=UVICORN_WS_MAX_SIZE))

    def announce() -> None:
        while not server.started and not server.should_exit:
            threading.Event().wait(0.02)
        if server.started:
            names = ", ".join(m["id"] for m in listing["models"] if m["available"]) or "none"
            print(f"rnnlab serve: {url}  (models: {names}; Ctrl+C to stop)", flush=True)
            if listing["message"]:
                print(f"  note: {listing['message']}", flush=True)
            if args.open:
                webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    server.run()
    return 0

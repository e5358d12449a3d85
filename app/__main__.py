"""`python -m app` (or `segcam`): segment a camera (or clip) in real time, show and record the
overlay. `python -m app doctor` checks what this machine has for the config; `check-config`
validates the config, bundle and source, then exits; `predict` segments files as fast as the
machine goes (app/predict/)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from app import preflight
from app.config import ConfigError, load_app_config
from app.logs import install as install_logging
from app.logs import silence_stdout
from app.redact import redact, remember_secrets

log = logging.getLogger("app")
# SIGHUP too: a closed terminal, and some supervisors, stop a program with it.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# While a TensorRT engine builds (progress every 30 s): more than one progress period.
BUILD_EXTEND_S = 90.0
# Found from the installed code, not the current folder: `segcam` works from anywhere.
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "app.yaml"


SUBCOMMANDS = ("run", "doctor", "check-config", "predict")


def default_config() -> str | None:
    """configs/app.yaml of the checkout this code runs from; None (the built-in defaults, with
    the shipped bundle) where the code was installed without it."""
    return str(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else None


def _parser(prog: str = "python -m app") -> argparse.ArgumentParser:
    from models.version import version

    base = prog.removesuffix(" run")
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__,
        epilog=f"also: {base} doctor [--config ...] (what this machine has for the config), "
               f"{base} check-config [flags] (the same as --check-config), "
               f"{base} predict SOURCE ... (segment files)")
    parser.add_argument("--version", action="version", version=f"segcam {version()}")
    parser.add_argument("--config", default=default_config(),
                        help="app YAML (default: %(default)s; none: the built-in defaults)")
    parser.add_argument("--source", help="override source.uri (csi://0, v4l2:///dev/video0, file://..., test://)")
    parser.add_argument("--bundle", help="override model.bundle")
    parser.add_argument("--backend", choices=["auto", "tensorrt", "litert", "onnx", "keras"], help="override model.backend")
    parser.add_argument("--record", metavar="DIR", help="record into DIR (enables recording)")
    parser.add_argument("--no-record", action="store_true", help="do not record")
    parser.add_argument("--headless", action="store_true", help="no window even if a display exists")
    parser.add_argument("--max-frames", type=int, help="stop after N captured frames")
    parser.add_argument("--stats-json", metavar="FILE", help="write the stats here every period")
    parser.add_argument("--check-config", action="store_true", help="validate config, bundle and source, then exit")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def _overrides(args) -> dict:
    overrides: dict = {}
    for flag, value in (("--source", args.source), ("--bundle", args.bundle),
                        ("--record", args.record)):
        if value is not None and not value.strip():  # "" must not quietly mean "the config's"
            raise ConfigError(f"{flag}: empty value")
    if args.source is not None:
        overrides["source.uri"] = args.source
    if args.bundle is not None:
        overrides["model.bundle"] = str(Path(args.bundle).resolve())
    if args.backend:
        overrides["model.backend"] = args.backend
    if args.record is not None:
        overrides["record.dir"] = str(Path(args.record).resolve())
        overrides["record.enabled"] = True
    if args.no_record:
        overrides["record.enabled"] = False
    return overrides


class StopRequests:
    """Where signals (and a closed stdout) go: a list while the app starts, then the running
    pipeline's request_stop. Called from signal handlers, so an append only: no locks, no I/O
    (the logger and Event.set() take locks; the interrupted main thread may hold them)."""

    def __init__(self) -> None:
        self.early: list[int] = []
        self.target = self.early.append

    def handler(self, signum: int, _frame: object = None) -> None:
        self.target(signum)

    def hand_over(self, request_stop) -> None:
        """From now on the pipeline gets them; what came before the swap is passed on."""
        self.target = request_stop
        for signum in self.early:
            request_stop(signum)


def _say(text: str, stream=None) -> None:
    """print() for the CLI's own lines: redacted, and a reader that went away is no error."""
    stream = stream or sys.stdout
    try:
        print(redact(text), file=stream, flush=True)
    except BrokenPipeError:
        if stream is sys.stdout:
            silence_stdout()


def _warn_unknown_hidden(config, bundle) -> None:
    classes = bundle.classes
    unknown = [h for h in config.overlay.hidden
               if (h not in classes if isinstance(h, str) else h >= len(classes))]
    if unknown:
        # A warning, not exit 2: the shipped configs hide "background", which CamVid lacks.
        log.warning("overlay.hidden: %s not among the classes of %s (%s); ignored",
                    ", ".join(map(repr, unknown)), bundle.name, ", ".join(bundle.classes))


def main(argv: list[str] | None = None, prog: str = "python -m app") -> int:
    """The run, or a subcommand named first: `doctor`, `check-config`, `run` (the default)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    named = bool(argv) and argv[0] in SUBCOMMANDS
    command = argv[0] if named else "run"
    if named:
        argv = argv[1:]
    if command == "doctor":
        from app.doctor import main as doctor

        return doctor(argv, prog=f"{prog} doctor", default_config=default_config())
    if command == "predict":
        from app.predict.command import main as predict

        return predict(argv, prog=f"{prog} predict")
    if command == "check-config":
        argv = ["--check-config", *argv]
    return _main(argv, f"{prog} {command}" if named else prog)


def _main(argv: list[str], prog: str) -> int:
    args = _parser(prog).parse_args(argv)
    stops = StopRequests()
    install_logging(args.log_level, on_broken=lambda: stops.handler(signal.SIGPIPE))
    # Before anything slow (the engine can take seconds, TensorRT minutes): a signal then
    # ends the start-up cleanly instead of killing the process by the default action.
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup, `cmd &`: left ignored
            signal.signal(signum, stops.handler)
    try:
        config = load_app_config(args.config, _overrides(args))
        remember_secrets(config.source.uri)
        if args.max_frames is not None and args.max_frames <= 0:
            raise ConfigError("--max-frames: must be a positive number")
        if args.stats_json:
            preflight.check_stats_json(Path(args.stats_json))
        if config.record.enabled:
            preflight.check_record_dir(config.record.dir)
        from models.bundle import BundleError, load_bundle
        from models.engines import EngineError, open_engine

        try:
            bundle = load_bundle(config.model.bundle)
            preflight.check_source(config.source.uri)
            _warn_unknown_hidden(config, bundle)
            if args.check_config:
                _say(f"config OK: {args.config or '<defaults>'} (bundle {bundle.name}, "
                     f"source {config.source.uri})")
                return 0
            if stops.early:
                return _stopped_while_starting(stops.early[0])
            # A first TensorRT build takes minutes: systemd's start timeout is extended meanwhile.
            from app.notify import ServiceNotifier

            notifier = ServiceNotifier.from_env()
            engine = open_engine(bundle, backend=config.model.backend,
                                 threads=config.model.threads, providers=config.model.providers,
                                 cache_dir=config.model.cache_dir,
                                 keepalive=lambda: notifier.extend_timeout(BUILD_EXTEND_S))
        except BundleError as error:
            raise ConfigError(f"model.bundle: {error}") from None
        except EngineError as error:
            raise ConfigError(f"model.backend: {error}") from None
    except ConfigError as error:
        _say(f"error: {error}", sys.stderr)
        return 2
    if stops.early:
        engine.close()
        return _stopped_while_starting(stops.early[0])
    return _run(config, engine, args, stops, notifier)


def _stopped_while_starting(signum: int) -> int:
    """One line; 130 for Ctrl-C as a shell expects, 0 for a service manager's stop."""
    if signum != signal.SIGPIPE:
        _say(f"{signal.Signals(signum).name} while starting: stopped before the first frame",
             sys.stderr)
    return 130 if signum == signal.SIGINT else 0


def _log_engine(config, engine) -> None:
    """The one start-up line of what runs the model; a warning when a GPU here goes unused."""
    from models.engines.devices import gpu_unused_warning
    from models.version import version

    log.info("segcam %s, engine %s: %s; input %dx%d, %d classes; source %s", version(),
             engine.bundle.name, engine.describe(), engine.input_size[1], engine.input_size[0],
             len(engine.classes), config.source.uri)
    warning = gpu_unused_warning(engine, config.model.backend, config.model.providers)
    if warning:
        log.warning("%s", warning)


def _run(config, engine, args, stops: StopRequests, notifier) -> int:
    from app.pipeline import Pipeline, RunOptions
    from app.telemetry import Telemetry

    telemetry = Telemetry(config.telemetry.interval_s) if config.telemetry.enabled else None
    options = RunOptions(headless=args.headless, max_frames=args.max_frames,
                         stats_json=Path(args.stats_json) if args.stats_json else None)
    try:
        pipeline = Pipeline(config, engine, options, notifier=notifier, telemetry=telemetry)
    except ConfigError as error:  # web.listen / rtsp.port: the port is taken or not ours
        print(f"error: {error}", file=sys.stderr)
        engine.close()
        return 2
    stops.hand_over(pipeline.request_stop)  # the supervisor logs, notifies and stops
    _log_engine(config, engine)
    if telemetry is not None:
        telemetry.start()
    try:
        code = pipeline.run()
    finally:
        if telemetry is not None:
            telemetry.stop()
        if pipeline.threads_stopped:  # never free the runtime under a thread still inside it
            engine.close()
        notifier.stopping()
        notifier.close()
    files = pipeline.recorded_files
    if len(files) == 1:
        _say(f"recorded {files[0]}")
    elif files:
        _say(f"recorded {len(files)} segments in {config.record.dir}: {files[0].name} ... "
             f"{files[-1].name}")
    return code


def exit_now(code: int) -> None:
    """Flush and leave: the end of `python -m app` and of the `segcam` command."""
    # Leave without the interpreter's shutdown: native threads that outlive it (Qt's X11
    # reader, GStreamer's) may log through PyGObject's GLib log handler while it finalizes,
    # which aborts the process (seen: an offline rtsp camera + a window, then q). Everything
    # of ours is closed by now; only our own buffered output is left to flush.
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError):  # the reader left (| head): nothing to add
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())

"""`python -m app`: segment a camera (or clip) in real time, show and record the overlay."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from app.config import ConfigError, load_app_config

log = logging.getLogger("app")
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "app.yaml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="app YAML (default: %(default)s)")
    parser.add_argument("--source", help="override source.uri (csi://0, v4l2:///dev/video0, file://..., test://)")
    parser.add_argument("--bundle", help="override model.bundle")
    parser.add_argument("--backend", choices=["auto", "litert", "onnx", "keras"], help="override model.backend")
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
    if args.source:
        overrides["source.uri"] = args.source
    if args.bundle:
        overrides["model.bundle"] = str(Path(args.bundle).resolve())
    if args.backend:
        overrides["model.backend"] = args.backend
    if args.record:
        overrides["record.dir"] = str(Path(args.record).resolve())
        overrides["record.enabled"] = True
    if args.no_record:
        overrides["record.enabled"] = False
    return overrides


def _check_source(uri: str) -> None:
    """Files, folders and globs must exist; cameras and streams may come later (reconnect)."""
    from app.sources import SourceError, SourceOptions, open_source

    if uri.startswith(("csi://", "v4l2://", "rtsp://", "rtsps://", "gst://", "test://", "/dev/")):
        return
    try:
        open_source(uri, SourceOptions()).close()
    except SourceError as error:
        raise ConfigError(f"source.uri: {error}") from None


def _check_stats_json(path: Path) -> None:
    """The stats file is written every period: a path that cannot be written fails now."""
    if path.is_dir():
        raise ConfigError(f"--stats-json: {path} is a directory")
    probe = path.with_name(path.name + ".tmp")  # the same temporary name report() uses
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ConfigError(f"--stats-json: cannot write {path} ({error.strerror or error})") from None


def _warn_unknown_hidden(config, bundle) -> None:
    classes = bundle.classes
    unknown = [h for h in config.overlay.hidden
               if (h not in classes if isinstance(h, str) else h >= len(classes))]
    if unknown:
        # A warning, not exit 2: the shipped configs hide "background", which CamVid lacks.
        log.warning("overlay.hidden: %s not among the classes of %s (%s); ignored",
                    ", ".join(map(repr, unknown)), bundle.name, ", ".join(bundle.classes))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_app_config(args.config, _overrides(args))
        if args.max_frames is not None and args.max_frames <= 0:
            raise ConfigError("--max-frames: must be a positive number")
        if args.stats_json:
            _check_stats_json(Path(args.stats_json))
        from models.bundle import BundleError, load_bundle
        from models.engines import EngineError, open_engine

        try:
            bundle = load_bundle(config.model.bundle)
            _check_source(config.source.uri)
            _warn_unknown_hidden(config, bundle)
            if args.check_config:
                print(f"config OK: {args.config} (bundle {bundle.name}, source {config.source.uri})")
                return 0
            engine = open_engine(bundle, backend=config.model.backend,
                                 threads=config.model.threads, providers=config.model.providers,
                                 cache_dir=config.model.cache_dir)
        except BundleError as error:
            raise ConfigError(f"model.bundle: {error}") from None
        except EngineError as error:
            raise ConfigError(f"model.backend: {error}") from None
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while the engine loads: nothing to drain yet
        print("interrupted", file=sys.stderr)
        return 130
    return _run(config, engine, args)


def _run(config, engine, args) -> int:
    from app.notify import ServiceNotifier
    from app.pipeline import Pipeline, RunOptions
    from app.telemetry import Telemetry

    notifier = ServiceNotifier.from_env()
    telemetry = Telemetry(config.telemetry.interval_s) if config.telemetry.enabled else None
    options = RunOptions(headless=args.headless, max_frames=args.max_frames,
                         stats_json=Path(args.stats_json) if args.stats_json else None)
    try:
        pipeline = Pipeline(config, engine, options, notifier=notifier, telemetry=telemetry)
    except ConfigError as error:  # web.listen: the port is taken or the address is not ours
        print(f"error: {error}", file=sys.stderr)
        engine.close()
        return 2

    def on_signal(signum, _frame) -> None:
        # Only a plain append here: the handler runs between two bytecodes of whatever the main
        # thread was doing, maybe inside a lock the logger or an Event holds. The supervisor
        # loop logs it and stops the pipeline within one poll.
        pipeline.request_stop(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    log.info("engine %s, input %dx%d, %d classes; source %s", engine.name, engine.input_size[1],
             engine.input_size[0], len(engine.classes), config.source.uri)
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
        print(f"recorded {files[0]}")
    elif files:
        print(f"recorded {len(files)} segments in {config.record.dir}: {files[0].name} ... "
              f"{files[-1].name}")
    return code


if __name__ == "__main__":
    code = main()
    # Leave without the interpreter's shutdown: native threads that outlive it (Qt's X11
    # reader, GStreamer's) may log through PyGObject's GLib log handler while it finalizes,
    # which aborts the process (seen: an offline rtsp camera + a window, then q). Everything
    # of ours is closed by now; only our own buffered output is left to flush.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

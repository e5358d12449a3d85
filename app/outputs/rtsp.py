"""The RTSP output: the annotated video as H.264 over RTSP (GStreamer's RTSP server), for VLC,
ffplay, NVRs and other tools.

    write() --one copy, never waits--> appsrc ! <record.encoder's H.264> ! h264parse ! rtph264pay

One media is shared by every client, so two viewers cost one encode. It is built when the first
client asks for the stream ("media-configure": encoding starts) and torn down when the last one
leaves ("unprepared": encoding stops); with no client, write() returns at its first check. When
the encoder is behind, frames are dropped and counted, never queued. The server, its clients and
the authentication run in one GLib main loop in the thread "rtsp"; close() disconnects the
clients, stops the media and ends that loop.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from app.config import ConfigError, RtspSettings
from app.log_limit import RepeatedEvents
from app.outputs.base import Output, Rendered
from app.outputs.display import idle_picture
from app.outputs.rtsp_clock import FrameClock
from app.outputs.rtsp_hash_auth import hash_auth_class
from app.recording.encoders import Encoder, RecorderError, choose_encoder

log = logging.getLogger(__name__)

QUEUE_FRAMES = 2  # frames appsrc may hold; more means the encoder is behind: drop
DEFAULT_FPS = 15.0  # when neither the source nor source.fps gives a rate
CLEANUP_S = 2  # how often sessions whose (UDP) client vanished are looked for
JOIN_S = 2.0  # close() waits this long for the loop thread
ROLE = "viewer"
INSTALL_HINT = ("rtsp needs GStreamer's RTSP server bindings: apt install "
                "gir1.2-gst-rtsp-server-1.0 (scripts/system-deps.sh)")


@functools.lru_cache(maxsize=1)
def _modules() -> tuple[Any, Any, Any, Any]:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    gi.require_version("GstApp", "1.0")
    from gi.repository import GLib, Gst, GstApp, GstRtsp, GstRtspServer  # noqa: F401 - GstApp:
    # loaded before any appsrc/appsink exists, or their Python classes lack their methods

    if not Gst.is_initialized():
        Gst.init(None)
    return Gst, GstRtsp, GstRtspServer, GLib


def rtsp_modules() -> tuple[Any, Any, Any, Any]:
    """(Gst, GstRtsp, GstRtspServer, GLib); ConfigError naming the package when missing."""
    try:
        return _modules()
    except (ImportError, ValueError):
        raise ConfigError(f"rtsp.enabled: {INSTALL_HINT}") from None


def open_rtsp(settings: RtspSettings, encoder: str = "auto",
              configured_source_fps: float | None = None) -> RtspOutput:
    """The RTSP output, listening; ConfigError (one line) when it cannot be."""
    modules = rtsp_modules()
    try:
        chosen = choose_encoder(encoder)
    except RecorderError as error:
        raise ConfigError(f"rtsp: {error}") from None
    return RtspOutput(settings, chosen, configured_source_fps, modules)


@dataclass
class _Feed:
    """One prepared media's appsrc and the caps last set on it."""

    src: Any
    caps: str | None = None
    clock: FrameClock = field(default_factory=FrameClock)


class RtspOutput(Output):
    name = "rtsp"

    def __init__(self, settings: RtspSettings, encoder: Encoder,
                 configured_source_fps: float | None = None,
                 modules: tuple[Any, Any, Any, Any] | None = None) -> None:
        self.settings = settings
        self.encoder = encoder
        self.configured_source_fps = configured_source_fps
        self._Gst, self._GstRtsp, self._Server, self._GLib = modules or rtsp_modules()
        self.dropped = 0
        self.frames_sent = 0
        self.encodes_started = 0  # media built: the first client of a run of clients came
        self._lock = threading.Lock()  # _feeds and _medias: the loop thread vs the output thread
        self._feeds: list[_Feed] = []
        self._medias: list[Any] = []
        self._caps: str | None = None  # the current frame format, as appsrc caps
        self._fps = Fraction(configured_source_fps or DEFAULT_FPS).limit_denominator(1001)
        self._shown: np.ndarray | None = None  # the last frame, for the "offline" picture
        self._closed = False
        self._failures = RepeatedEvents(log, "failed logins")  # touched on the loop thread

        GLib = self._GLib
        self._context = GLib.MainContext.new()
        self._loop = GLib.MainLoop.new(self._context, False)
        self._server = self._build_server()
        try:
            self._listener = self._server.create_source(None)
        except GLib.Error as error:
            raise ConfigError(f"rtsp.port: cannot listen on {self._where()} "
                              f"({error.message})") from None
        self._listener.attach(self._context)
        cleanup = GLib.timeout_source_new_seconds(CLEANUP_S)
        cleanup.set_callback(self._cleanup_sessions)
        cleanup.attach(self._context)
        self._thread = threading.Thread(target=self._serve, name="rtsp", daemon=True)
        self._thread.start()
        log.info("rtsp: serving %s (%s%s)", self.url, encoder.name,
                 ", Basic auth" if settings.username else "")

    # -- what callers and tests read ---------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.get_bound_port()

    @property
    def url(self) -> str:
        host = self.settings.listen
        host = f"[{host}]" if ":" in host else host
        return f"rtsp://{host}:{self.port}{self.settings.path}"

    @property
    def encoding(self) -> bool:
        """True while a client is watching (a media is prepared and fed)."""
        with self._lock:
            return bool(self._feeds)

    # -- Output ------------------------------------------------------------------------------

    def write(self, rendered: Rendered) -> None:
        self._shown = rendered.image
        if rendered.source_fps:
            self._fps = Fraction(rendered.source_fps).limit_denominator(1001)
        self._send(rendered.image, rendered.frame.captured_at)

    def idle(self, offline: bool, hud: str | None) -> None:
        # A camera that is down still gets a picture out, so players and NVRs stay connected.
        if offline and self.encoding:
            self._send(idle_picture(self._shown, offline, hud), time.monotonic())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._feeds.clear()  # write() sends nothing from here on
        stop = self._GLib.idle_source_new()
        stop.set_callback(self._shutdown)
        stop.attach(self._context)
        self._thread.join(JOIN_S)
        if self._thread.is_alive():
            log.warning("rtsp: the server thread did not stop within %.0f s", JOIN_S)
        # The source holds the listening socket: dropping the last reference closes it.
        self._listener.destroy()
        self._listener = None
        log.info("rtsp: closed (%d frames sent, %d dropped)", self.frames_sent, self.dropped)

    # -- frames (output thread) --------------------------------------------------------------

    def _send(self, image: np.ndarray, captured_at: float) -> None:
        """Hand the frame to every prepared media; `captured_at` is its time.monotonic()."""
        height, width = image.shape[:2]
        caps = (f"video/x-raw,format=BGR,width={width},height={height},"
                f"framerate={self._fps.numerator}/{self._fps.denominator}")
        self._caps = caps
        with self._lock:
            feeds = list(self._feeds)
        if not feeds:
            return  # nobody watches: nothing is copied or encoded
        data = _packed_rows(image)
        Gst = self._Gst
        for feed in feeds:
            src = feed.src
            if src.get_property("current-level-bytes") > len(data) * (QUEUE_FRAMES - 1):
                self.dropped += 1  # the encoder is behind: a lost frame beats a late one
                continue
            pts = self._pts(feed, captured_at)
            if pts is None:
                self.dropped += 1  # not playing yet, or the source outruns its stated rate
                continue
            if feed.caps != caps:  # the first frame, or the frame size changed: renegotiate
                src.set_property("caps", Gst.Caps.from_string(caps))
                feed.caps = caps
            buffer = Gst.Buffer.new_wrapped(data)
            buffer.pts, buffer.duration = pts, FrameClock.duration(self._fps)
            if src.emit("push-buffer", buffer) == Gst.FlowReturn.OK:
                self.frames_sent += 1
            else:
                self.dropped += 1  # the media is stopping (last client left)

    def _pts(self, feed: _Feed, captured_at: float) -> int | None:
        """The frame's capture time in the media's running time, on the frame-rate grid."""
        running = feed.src.get_current_running_time()
        if running == self._Gst.CLOCK_TIME_NONE:
            return None  # the media has no clock yet
        age = round((time.monotonic() - captured_at) * self._Gst.SECOND)
        return feed.clock.stamp(running - age, self._fps)

    # -- the server (built in the caller's thread, then run by the loop thread) ---------------

    def _where(self) -> str:
        settings = self.settings
        return f"{settings.listen}:{settings.port}"

    def _build_server(self) -> Any:
        Server, settings = self._Server, self.settings
        server = Server.RTSPServer()
        # No client threads: every client is served by the loop, so ending it ends them all.
        server.get_thread_pool().set_max_threads(0)
        server.set_address(settings.listen)
        server.set_service(str(settings.port))
        server.connect("client-connected", self._on_client)
        factory = Server.RTSPMediaFactory()
        factory.set_shared(True)
        factory.set_launch(self._launch())
        factory.connect("media-configure", self._on_media_configure)
        if settings.username:
            server.set_auth(self._auth())
            permissions = Server.RTSPPermissions()
            permissions.add_permission_for_role(ROLE, "media.factory.access", True)
            permissions.add_permission_for_role(ROLE, "media.factory.construct", True)
            factory.set_permissions(permissions)
        server.get_mount_points().add_factory(settings.path, factory)
        return server

    def _launch(self) -> str:
        gop = max(1, round(float(self._fps)))  # one key frame a second: a new client waits <1 s
        # Frames come stamped with their capture time (_pts), so a clip or a slow model
        # still plays in real time. SPS/PPS go before every key frame, for the clients that
        # join a shared media half-way: inserted by h264parse once per whole frame (au), not
        # by rtph264pay, which repeats them before each slice (x264's sliced threads cut a
        # frame in two), and libavcodec takes headers between two slices for a new frame.
        return (f"( appsrc name=src is-live=true format=time do-timestamp=false block=false"
                f" ! {self.encoder.fragment(gop, self.settings.bitrate_kbps)}"
                f" ! h264parse config-interval=-1"
                f" ! video/x-h264,stream-format=byte-stream,alignment=au"
                f" ! rtph264pay name=pay0 pt=96 config-interval=0 )")

    def _auth(self) -> Any:
        Server, GstRtsp, settings = self._Server, self._GstRtsp, self.settings
        token = Server.RTSPToken()
        token.set_string("media.factory.role", ROLE)
        if settings.password_hash is not None:
            auth = hash_auth_class(Server, GstRtsp)()
            auth.expect(settings.username, settings.password_hash, token, self._failures)
        else:
            auth = Server.RTSPAuth()
            secret = settings.password.get_secret_value() if settings.password else ""
            auth.add_basic(Server.RTSPAuth.make_basic(settings.username, secret), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)  # the hash checks Basic only
        auth.set_realm("segcam")
        return auth

    def _serve(self) -> None:
        self._context.push_thread_default()
        try:
            self._loop.run()
        finally:
            self._context.pop_thread_default()

    # -- callbacks (loop thread) -------------------------------------------------------------

    def _on_client(self, _server: Any, client: Any) -> None:
        # A connection is logged once it plays: anyone can open connections (a password
        # guesser opens one per guess), and those must not fill the log.
        ip = client.get_connection().get_ip()
        played = [False]

        def playing(*_: object) -> None:
            if not played[0]:
                played[0] = True
                log.info("rtsp: client %s playing", ip)

        def closed(_client: Any) -> None:
            if played[0]:
                log.info("rtsp: client %s left", ip)

        client.connect("play-request", playing)
        client.connect("closed", closed)

    def _on_media_configure(self, _factory: Any, media: Any) -> None:
        src = media.get_element().get_by_name_recurse_up("src")
        feed = _Feed(src)
        if self._caps is not None:  # known already: the media can preroll on the next frame
            src.set_property("caps", self._Gst.Caps.from_string(self._caps))
            feed.caps = self._caps
        media.connect("unprepared", self._on_media_unprepared, feed)
        media.get_element().get_parent().connect("deep-element-added", _unsynced_sinks)
        with self._lock:
            if self._closed:
                return
            self._feeds.append(feed)
            self._medias.append(media)
            self.encodes_started += 1
        log.info("rtsp: a client asked for the stream: encoding started (%s)", self.encoder.name)

    def _on_media_unprepared(self, media: Any, feed: _Feed) -> None:
        with self._lock:
            if feed in self._feeds:
                self._feeds.remove(feed)
            if media in self._medias:
                self._medias.remove(media)
        log.info("rtsp: the last client left: encoding stopped")

    def _cleanup_sessions(self, *_: object) -> bool:
        # A UDP client that vanished without TEARDOWN holds the media until its session
        # times out; the pool only notices when asked.
        self._server.get_session_pool().cleanup()
        self._failures.tick()  # a minute of failed logins is told when it ends
        return True  # keep the timer

    def _shutdown(self, *_: object) -> bool:
        Server = self._Server
        self._server.client_filter(lambda *_: Server.RTSPFilterResult.REMOVE)
        with self._lock:
            medias = list(self._medias)
        for media in medias:  # a media still prepared (its clients' sessions not yet gone)
            media.unprepare()
        self._failures.flush()
        self._loop.quit()
        return False  # run once


def _unsynced_sinks(_bin: Any, _sub_bin: Any, element: Any) -> None:
    """Keeps the sinks the server adds for each client (at SETUP) from syncing to the clock.

    Frames are live and stamped by the app (their capture time), so a sink that waits for the clock only adds a
    way to hang: about 1 client in 60 on a busy machine never got a frame, and gdb showed the
    encoder's thread parked in the RTP sink's clock wait from the first buffer on. The server
    sets "sync" again when a client plays (rate control), hence the notify."""
    factory = element.get_factory()
    if factory is not None and factory.get_name() in ("appsink", "multiudpsink"):
        element.set_property("sync", False)
        element.connect("notify::sync", _keep_unsynced)


def _keep_unsynced(sink: Any, _spec: Any) -> None:
    if sink.get_property("sync"):
        sink.set_property("sync", False)


def _packed_rows(image: np.ndarray) -> bytes:
    """The frame's bytes as GStreamer lays out BGR: each row padded to a multiple of 4."""
    height, width = image.shape[:2]
    row = width * 3
    stride = (row + 3) & ~3
    if stride == row:
        return np.ascontiguousarray(image).tobytes()
    padded = np.zeros((height, stride), np.uint8)
    padded[:, :row] = image.reshape(height, row)
    return padded.tobytes()

"""The server's pages and endpoints (aiohttp handlers); all run on the web thread's loop.

Anything that takes CPU or disk time (JPEG, PNG, listing, remuxing, /metrics) runs in the
server's small worker pool, so one slow request never holds up the live streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from string import Template

import numpy as np
from aiohttp import web
from PIL import Image

from app.web.hub import FrameHub, wall_time
from app.web.limits import ConnectionLimiter
from app.web.metrics import Metrics
from app.web.recordings import Recordings, RemuxError
from app.web.status import FrameRates

log = logging.getLogger("app.web")
STATIC = Path(__file__).resolve().parent / "static"
BOUNDARY = "frame"
WAKE_S = 1.0  # a waiting stream looks for a closed connection or a stop this often
WRITE_TIMEOUT_S = 20.0  # a client that takes no bytes for this long is dropped
NO_STORE = {"Cache-Control": "no-store"}
STREAM_SNDBUF = 64 * 1024  # bytes the kernel may hold per viewer (a few frames)


class Routes:
    def __init__(self, hub: FrameHub, recordings: Recordings, metrics: Metrics,
                 status: Callable[[], dict], classes: list[str], palette: np.ndarray,
                 max_clients: int, pool: ThreadPoolExecutor,
                 limiter: ConnectionLimiter | None = None) -> None:
        self.hub = hub
        self.recordings = recordings
        self.metrics = metrics
        self.status = status
        self.classes = list(classes)
        self.palette = np.asarray(palette, np.uint8).reshape(-1, 3)
        self.max_clients = max_clients
        self.pool = pool
        self.limiter = limiter or ConnectionLimiter()
        self.clients = 0  # live streams being served (touched only on the loop)
        self.rates = FrameRates()
        self.closing = False
        self._frame_event: asyncio.Event | None = None

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/", self.page("live"))
        app.router.add_get("/recordings", self.page("recordings"))
        app.router.add_static("/static/", STATIC, show_index=False, follow_symlinks=False)
        app.router.add_get("/stream.mjpg", self.stream)
        app.router.add_get("/api/stats", self.stats)
        app.router.add_get("/api/frame.jpg", self.frame_jpg)
        app.router.add_get("/api/labels.png", self.labels_png)
        app.router.add_get("/api/classes", self.class_fractions)
        app.router.add_get("/api/recordings", self.recording_list)
        app.router.add_get("/recordings/{name}", self.recording_file)
        app.router.add_get("/metrics", self.prometheus)

    # -- loop-side plumbing ------------------------------------------------------------------

    def started(self) -> None:
        """On the loop, once it runs: the stream wake-up event and the rate sampler."""
        self._frame_event = asyncio.Event()

    def frame_ready(self) -> None:
        """On the loop (scheduled by the encoder thread): wake every waiting stream."""
        event, self._frame_event = self._frame_event, asyncio.Event()
        if event is not None:
            event.set()

    def stop_streams(self) -> None:
        self.closing = True
        self.frame_ready()

    async def sample_rates(self) -> None:
        while True:
            self.rates.sample(self.status()["frames"])
            await asyncio.sleep(1.0)

    async def _work(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, function, *args)

    # -- pages -------------------------------------------------------------------------------

    def page(self, name: str):
        """static/page.html (head, style, navigation) around static/NAME.html, with NAME.js."""
        html = Template((STATIC / "page.html").read_text()).substitute(
            title=name, main=(STATIC / f"{name}.html").read_text().rstrip(), script=f"{name}.js")

        async def handler(_request: web.Request) -> web.StreamResponse:
            return web.Response(text=html, content_type="text/html", headers=NO_STORE)
        return handler

    # -- the live stream ---------------------------------------------------------------------

    async def stream(self, request: web.Request) -> web.StreamResponse:
        if self.clients >= self.max_clients:
            raise web.HTTPServiceUnavailable(
                text=f"503: {self.max_clients} live streams already (web.max_clients)\n",
                headers={"Retry-After": "5"})
        headers = {**NO_STORE, "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                   "X-Accel-Buffering": "no"}  # a reverse proxy in front must not buffer it
        if request.method == "HEAD":  # headers only: no stream, no slot, no JPEG encoding
            return web.Response(headers=headers)
        self.clients += 1
        self.hub.watch()
        response = web.StreamResponse(headers=headers)
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is not None:
            # A small send buffer: a slow viewer gets the newest frame next, not seconds of
            # old ones queued in the kernel.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SNDBUF)
        try:
            await response.prepare(request)
            await response.write(f"--{BOUNDARY}\r\n".encode())
            sent = -1
            while not self.closing:
                event = self._frame_event
                jpeg = self.hub.cached_jpeg()
                if jpeg is None or jpeg.seq == sent:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(event.wait(), WAKE_S)
                    if request.transport is None or request.transport.is_closing():
                        break
                    continue
                sent = jpeg.seq
                # The boundary right after the picture: a browser shows a part once the next
                # boundary arrives, so it must not wait for the next frame.
                part = (f"Content-Type: image/jpeg\r\nContent-Length: {len(jpeg.data)}\r\n"
                        f"X-Frame-Index: {jpeg.index}\r\nX-Timestamp: {jpeg.captured_at:.6f}"
                        "\r\n\r\n").encode() + jpeg.data + f"\r\n--{BOUNDARY}\r\n".encode()
                await asyncio.wait_for(response.write(part), WRITE_TIMEOUT_S)
        except (ConnectionError, asyncio.TimeoutError):
            pass  # the client left or stopped reading: its slot is free again
        finally:
            self.clients -= 1
            self.hub.unwatch()
        return response

    # -- data --------------------------------------------------------------------------------

    async def stats(self, _request: web.Request) -> web.Response:
        status = self.status()
        body = {**status, **self.rates.rates(),
                "web": {"stream_clients": self.clients, "max_clients": self.max_clients,
                        "jpeg_encodes": self.hub.encodes,
                        "connections": self.limiter.connections,
                        "max_connections": self.limiter.total,
                        "max_connections_per_address": self.limiter.per_address,
                        "refused_connections": self.limiter.refusals.total}}
        return web.json_response(body, headers=NO_STORE)

    async def frame_jpg(self, _request: web.Request) -> web.Response:
        jpeg = await self._work(self.hub.jpeg)
        if jpeg is None:
            raise web.HTTPServiceUnavailable(text="503: no frame yet\n", headers={"Retry-After": "1"})
        return web.Response(body=jpeg.data, content_type="image/jpeg", headers={
            **NO_STORE, "X-Frame-Index": str(jpeg.index), "X-Timestamp": f"{jpeg.captured_at:.6f}"})

    def _latest_labels(self):
        rendered = self.hub.latest()
        if rendered is None or rendered.frame.labels is None:
            raise web.HTTPServiceUnavailable(text="503: no frame yet\n", headers={"Retry-After": "1"})
        return rendered.frame

    def _png(self, labels: np.ndarray) -> bytes:
        image = Image.frombytes("P", (labels.shape[1], labels.shape[0]),
                                np.ascontiguousarray(labels, np.uint8).tobytes())
        image.putpalette(self.palette.tobytes())
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=1)  # speed over a few bytes
        return out.getvalue()

    async def labels_png(self, _request: web.Request) -> web.Response:
        frame = self._latest_labels()
        body = await self._work(self._png, frame.labels)
        return web.Response(body=body, content_type="image/png", headers={
            **NO_STORE, "X-Frame-Index": str(frame.index),
            "X-Timestamp": f"{wall_time(frame.captured_at):.6f}"})

    def legend(self) -> list[dict]:
        return [{"id": i, "name": name, "color": "#{:02x}{:02x}{:02x}".format(*self.palette[i])}
                for i, name in enumerate(self.classes)]

    async def class_fractions(self, _request: web.Request) -> web.Response:
        rendered = self.hub.latest()
        legend = self.legend()
        body: dict = {"frame": None, "captured_at": None, "size": None, "classes": legend}
        if rendered is not None and rendered.frame.labels is not None:
            frame = rendered.frame
            labels = frame.labels
            counts = np.bincount(labels.ravel(), minlength=len(legend))[:len(legend)]
            for entry, count in zip(legend, counts, strict=True):
                entry["fraction"] = round(float(count) / labels.size, 6)
            body.update(frame=frame.index, size=[int(labels.shape[1]), int(labels.shape[0])],
                        captured_at=datetime.fromtimestamp(wall_time(frame.captured_at))
                        .astimezone().isoformat(timespec="milliseconds"))
        return web.json_response(body, headers=NO_STORE)

    # -- recordings --------------------------------------------------------------------------

    async def recording_list(self, _request: web.Request) -> web.Response:
        segments = await self._work(self.recordings.list,
                                    lambda: self.status()["recording"].get("segment"))
        return web.json_response({"segments": [s.as_json() for s in segments]}, headers=NO_STORE)

    async def recording_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name.endswith(".mp4"):
            if name.removesuffix(".mp4") + ".mkv" == self.status()["recording"].get("segment"):
                raise web.HTTPConflict(text="409: this segment is still being recorded\n")
            try:
                path = await self._work(self.recordings.playable, name)
            except RemuxError as error:
                log.error("web: %s", error)
                raise web.HTTPInternalServerError(text=f"500: {error}\n") from None
            if path is None:
                raise web.HTTPNotFound()
            return web.FileResponse(path, headers={"Content-Type": "video/mp4"})
        path = self.recordings.find(name)
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={
            "Content-Type": "video/x-matroska",
            "Content-Disposition": f'attachment; filename="{path.name}"'})

    # -- Prometheus --------------------------------------------------------------------------

    async def prometheus(self, _request: web.Request) -> web.Response:
        body = await self._work(self.metrics.text)
        return web.Response(body=body, headers={
            "Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

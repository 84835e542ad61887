"""The benchmark's baseline: a minimal pass-through proxy, `python -m bench.baseline --port P --upstream URL`.

One aiohttp server and one aiohttp ClientSession (unlimited pool, like Switchyard's); the body is
forwarded as is and the answer streamed back chunk by chunk. No auth, routing or checks: the
floor that any aiohttp-based proxy pays.
"""

import argparse
import asyncio
import contextlib

import aiohttp
from aiohttp import web

from bench.upstream import run


async def serve(port: int, upstream: str) -> None:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)

    async def forward(request: web.Request) -> web.StreamResponse:
        async with session.post(upstream + request.path, data=await request.read(),
                                headers={"Content-Type": "application/json"}) as answer:
            kind = answer.headers.get("Content-Type", "application/json")
            if answer.content_length is not None:
                return web.Response(body=await answer.read(), status=answer.status, headers={"Content-Type": kind})
            response = web.StreamResponse(status=answer.status, headers={"Content-Type": kind})
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", forward)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="base URL, e.g. http://127.0.0.1:9000")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        run(serve(args.port, args.upstream.rstrip("/")))

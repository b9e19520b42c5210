"""GET /api/health: database, broker and worker heartbeat; 200 when all are fine, else 503."""

from starlette.requests import Request
from starlette.responses import JSONResponse

from postforge.services.health import check_health_async


async def health(request: Request) -> JSONResponse:
    report = await check_health_async()
    return JSONResponse(
        report.as_dict(),
        status_code=200 if report.ok else 503,
        headers={"Cache-Control": "no-store"},
    )

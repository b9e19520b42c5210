"""A small fake of the Stripe API for tests, as a Starlette app the real `stripe` library talks to.

It speaks the wire format stripe-python 16 uses: `application/x-www-form-urlencoded` bodies with
bracketed keys (`line_items[0][price_data][unit_amount]`), `Authorization: Bearer sk_…`, an
`Idempotency-Key` header, JSON answers and Stripe's error envelope.

* `POST /v1/checkout/sessions` — checks what Stripe checks (mode, line items, URLs, a price or
  price_data, metadata values as strings) and answers a Checkout Session (`cs_test_…`, `url`,
  `amount_total` from the price, metadata echoed). A repeated Idempotency-Key gets the very same
  session back, as Stripe does.
* `GET /v1/checkout/sessions/{id}`
* `POST /v1/billing_portal/sessions` — needs a known-looking customer (`cus_…`).

Knobs: `api.prices` (price id → unit amount and currency, for line items with a `price`),
`api.fail_next(status, code, message, times=n)` (the next n requests get that error).

    api = FakeStripeAPI()
    with serve(api.app) as base_url:
        ...  # settings.stripe_api_base = base_url
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_KEY_PART = re.compile(r"\[([^\]]*)\]")


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's bracketed form encoding back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head = key.split("[", 1)[0]
        path = [head, *_KEY_PART.findall(key[len(head) :])]
        node: Any = root
        for index, part in enumerate(path):
            last = index == len(path) - 1
            following = None if last else path[index + 1]
            child_default: Any = (
                value if last else ([] if following is not None and following.isdigit() else {})
            )
            if isinstance(node, list):
                position = int(part)
                while len(node) <= position:
                    node.append(None)
                if last:
                    node[position] = value
                elif node[position] is None:
                    node[position] = child_default
                node = node[position]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, child_default)
    return root


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    authorization: str | None
    stripe_version: str | None


@dataclass
class FakeStripeAPI:
    prices: dict[str, tuple[int, str]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    _failure: tuple[int, str, str] | None = None
    _failures_left: int = 0

    def fail_next(
        self, status: int, code: str = "api_error", message: str = "Something went wrong.", *, times: int = 1
    ) -> None:
        """The next `times` requests get this error (the library retries 5xx by itself)."""
        self._failure, self._failures_left = (status, code, message), times

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/checkout/sessions", self._create_session, methods=["POST"]),
                Route("/v1/checkout/sessions/{session_id}", self._get_session, methods=["GET"]),
                Route("/v1/billing_portal/sessions", self._create_portal, methods=["POST"]),
            ]
        )

    # --- helpers -----------------------------------------------------------------------------

    async def _record(self, request: Request) -> Recorded:
        body = (await request.body()).decode()
        recorded = Recorded(
            method=request.method,
            path=request.url.path,
            params=parse_form(body) if body else dict(request.query_params),
            idempotency_key=request.headers.get("idempotency-key"),
            authorization=request.headers.get("authorization"),
            stripe_version=request.headers.get("stripe-version"),
        )
        self.requests.append(recorded)
        return recorded

    @staticmethod
    def _error(status: int, message: str, *, code: str = "parameter_missing", param: str | None = None):
        kind = "invalid_request_error" if status < 500 else "api_error"
        error = {"type": kind, "code": code, "message": message}
        if param:
            error["param"] = param
        return JSONResponse({"error": error}, status_code=status, headers={"Request-Id": "req_fake"})

    def _auth_problem(self, recorded: Recorded) -> JSONResponse | None:
        if not (recorded.authorization or "").startswith("Bearer sk_"):
            return self._error(401, "Invalid API Key provided.", code="api_key_invalid")
        if self._failure is not None and self._failures_left > 0:
            status, code, message = self._failure
            self._failures_left -= 1
            return self._error(status, message, code=code)
        return None

    # --- endpoints ---------------------------------------------------------------------------

    async def _create_session(self, request: Request) -> JSONResponse:
        recorded = await self._record(request)
        problem = self._auth_problem(recorded)
        if problem is not None:
            return problem
        if recorded.idempotency_key and recorded.idempotency_key in self.by_key:
            return JSONResponse(self.by_key[recorded.idempotency_key])
        params = recorded.params
        mode = params.get("mode")
        if mode not in {"payment", "subscription", "setup"}:
            return self._error(400, "Missing required param: mode.", param="mode")
        for required in ("success_url", "cancel_url"):
            if not params.get(required):
                return self._error(400, f"Missing required param: {required}.", param=required)
        items = params.get("line_items") or []
        if not items:
            return self._error(400, "Missing required param: line_items.", param="line_items")
        amount_total, currency = 0, None
        for index, item in enumerate(items):
            quantity = int(item.get("quantity") or 0)
            if quantity < 1:
                return self._error(
                    400, "Quantity must be at least 1.", param=f"line_items[{index}][quantity]"
                )
            if "price" in item:
                if item["price"] not in self.prices:
                    return self._error(400, f"No such price: '{item['price']}'", code="resource_missing")
                unit, currency = self.prices[item["price"]]
            elif "price_data" in item:
                data = item["price_data"]
                if not data.get("currency") or not str(data.get("unit_amount", "")).isdigit():
                    return self._error(400, "price_data needs currency and unit_amount.")
                if not (data.get("product") or (data.get("product_data") or {}).get("name")):
                    return self._error(400, "price_data needs a product or product_data[name].")
                is_recurring = "recurring" in data
                if is_recurring != (mode == "subscription"):
                    return self._error(
                        400, "Recurring prices need mode=subscription, one-off ones mode=payment."
                    )
                unit, currency = int(data["unit_amount"]), data["currency"]
            else:
                return self._error(400, "Each line item needs a price or price_data.")
            amount_total += unit * quantity
        if "customer" in params and "customer_creation" in params:
            return self._error(
                400, "You may only specify one of these parameters: customer, customer_creation."
            )
        if mode == "subscription" and "customer_creation" in params:
            return self._error(400, "customer_creation can only be used in payment mode.")
        session_id = f"cs_test_{secrets.token_hex(16)}"
        base = str(request.base_url).rstrip("/")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount_total,
            "currency": currency,
            "url": f"{base}/c/pay/{session_id}",
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "client_reference_id": params.get("client_reference_id"),
            "customer": params.get("customer"),
            "metadata": params.get("metadata") or {},
            "payment_intent": None,
            "subscription": None,
            "invoice": None,
            "livemode": False,
        }
        self.sessions[session_id] = session
        if recorded.idempotency_key:
            self.by_key[recorded.idempotency_key] = session
        return JSONResponse(session)

    async def _get_session(self, request: Request) -> JSONResponse:
        recorded = await self._record(request)
        problem = self._auth_problem(recorded)
        if problem is not None:
            return problem
        found = self.sessions.get(request.path_params["session_id"])
        if found is None:
            return self._error(404, "No such checkout.session.", code="resource_missing")
        return JSONResponse(found)

    async def _create_portal(self, request: Request) -> JSONResponse:
        recorded = await self._record(request)
        problem = self._auth_problem(recorded)
        if problem is not None:
            return problem
        customer = recorded.params.get("customer", "")
        if not customer.startswith("cus_"):
            return self._error(
                400, f"No such customer: '{customer}'", code="resource_missing", param="customer"
            )
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "id": f"bps_{secrets.token_hex(12)}",
                "object": "billing_portal.session",
                "customer": customer,
                "return_url": recorded.params.get("return_url"),
                "url": f"{base}/p/session/{secrets.token_hex(8)}",
                "livemode": False,
            }
        )

"""OperationOutcome (R4 operationoutcome.html): the body of every FHIR error (R4 http.html)."""

from __future__ import annotations

from typing import Any

__all__ = ["ISSUE_CODES", "operation_outcome"]

# HTTP status -> IssueType code (R4 valueset-issue-type).
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    503: "transient",
}


def operation_outcome(status: int, diagnostics: str) -> dict[str, Any]:
    """The outcome of a failed interaction: one issue, severity error."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": ISSUE_CODES.get(status, "exception"),
                "diagnostics": diagnostics,
            }
        ],
    }

"""`finetune submit`: upload train/val files and create a fine-tuning job through the `openai` SDK.

Many OpenAI-compatible endpoints (local servers, most proxies) serve chat completions but not
`/files` or `/fine_tuning/jobs`; their 404/405/501 becomes one clear `SubmitError` saying so,
instead of an SDK traceback. Credentials are explicit arguments: only caseworker/ reads settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
from pydantic import BaseModel, ConfigDict

_UNSUPPORTED = (404, 405, 501)


class SubmitError(RuntimeError):
    """The job could not be submitted; the message says why and what to do."""


class MissingKeyError(SubmitError):
    """No API key is configured."""


class UnsupportedEndpointError(SubmitError):
    """The endpoint answers, but has no fine-tuning API."""


class SubmitResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str
    status: str
    model: str
    training_file_id: str
    validation_file_id: str | None
    base_url: str


def _explain(exc: openai.APIError, base_url: str, step: str, route: str) -> SubmitError:
    if isinstance(exc, openai.APIConnectionError):
        return SubmitError(f"cannot reach {base_url} while {step}: {exc}")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return SubmitError(f"{base_url} rejected the API key while {step} (HTTP {exc.status_code}): {exc.message}")
    if isinstance(exc, openai.APIStatusError) and exc.status_code in _UNSUPPORTED:
        return UnsupportedEndpointError(
            f"the endpoint {base_url} does not support fine-tuning: {route} answered HTTP {exc.status_code}. "
            "Point OPENAI_BASE_URL at a provider with a fine-tuning API (e.g. https://api.openai.com/v1), "
            "or upload train.jsonl/val.jsonl with your provider's own tools."
        )
    if isinstance(exc, openai.APIStatusError):
        return SubmitError(f"{base_url} refused {step} (HTTP {exc.status_code}): {exc.message}")
    return SubmitError(f"{step} failed: {exc}")


def submit_job(
    train: Path,
    validation: Path | None,
    *,
    api_key: str | None,
    base_url: str | None,
    model: str,
    epochs: int | None = None,
    suffix: str | None = None,
    seed: int | None = None,
    timeout: float = 120.0,
) -> SubmitResult:
    """Upload the files (purpose `fine-tune`) and create a supervised fine-tuning job."""
    if not api_key:
        raise MissingKeyError(
            "no API key configured: set OPENAI_API_KEY (and OPENAI_BASE_URL for a provider other than OpenAI)"
        )
    # One retry only: a 404 is never retried anyway, and a dead endpoint should fail in seconds.
    client = openai.OpenAI(api_key=api_key, base_url=base_url or None, max_retries=1, timeout=timeout)
    shown_url = str(client.base_url).rstrip("/")
    file_ids: list[str | None] = []
    for path in (train, validation):
        if path is None:
            file_ids.append(None)
            continue
        try:
            with path.open("rb") as handle:
                uploaded = client.files.create(file=(path.name, handle, "application/jsonl"), purpose="fine-tune")
        except openai.APIError as exc:
            raise _explain(exc, shown_url, f"uploading {path}", "POST /files") from exc
        file_ids.append(uploaded.id)
    training_id, validation_id = file_ids
    if training_id is None:  # cannot happen: the training file is always uploaded above
        raise SubmitError("the training file was not uploaded")
    options: dict[str, Any] = {}
    if validation_id:
        options["validation_file"] = validation_id
    if suffix:
        options["suffix"] = suffix
    if seed is not None:
        options["seed"] = seed
    if epochs is not None:
        options["method"] = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs}}}
    try:
        job = client.fine_tuning.jobs.create(model=model, training_file=training_id, **options)
    except openai.APIError as exc:
        raise _explain(exc, shown_url, "creating the fine-tuning job", "POST /fine_tuning/jobs") from exc
    return SubmitResult(
        job_id=job.id,
        status=str(job.status),
        model=model,
        training_file_id=training_id,
        validation_file_id=validation_id,
        base_url=shown_url,
    )

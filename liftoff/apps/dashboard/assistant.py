"""The AI sales assistant: any OpenAI-compatible chat API, grounded by the allow-listed gold tools.

Configuration (environment; nothing set means the rule-based mode):
    LIFTOFF_LLM_BASE_URL   e.g. https://api.openai.com/v1, https://api.groq.com/openai/v1,
                           http://127.0.0.1:11434/v1 (Ollama)
    LIFTOFF_LLM_MODEL      e.g. gpt-4o-mini, llama-3.3-70b-versatile, llama3.1
    LIFTOFF_LLM_API_KEY    the key (Ollama needs none: set the base URL only)
    LIFTOFF_LLM_TIMEOUT_S  the whole answer's time budget in seconds (default 30)

The model gets the tools' declarations (function calling), never SQL or table access; each call is
run by `tools.run_tool` (read-only, parameterised, timed out, row-limited) and its rows go back to
the model. A failed or slow model call never hangs the page: the client has a timeout and no
retries, and the page then answers by rules with a notice saying why.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from liftoff.apps.dashboard.answers import Answer, chart_for
from liftoff.apps.dashboard.intents import answer_by_rules, detect_language
from liftoff.apps.dashboard.tools import ToolError, ToolResult, run_tool, tool_schemas

DEFAULT_TIMEOUT_S = 30.0
MAX_TOOL_ROUNDS = 4
HISTORY_MESSAGES = 12

SYSTEM_PROMPT = """You are LiftOff Data's sales analyst, talking to a sales manager of a Brazilian retailer.
Ground every number in the tools: call them (several if needed) and never invent figures; if a tool
returns no rows, say there is no data. Gold holds complete days from {first} to {last}: "yesterday"
means {last}, "today" means the day after it, "this month" means {month_start} to {last}.
"Most sold" / "mais vendido" means units (rank_by items_sold) unless the user says revenue
(faturamento, receita). A comparison asked for ("X compared to Y", "em relação a", "versus") gets
both figures and the change. You can read sales, new customers, payroll and staff, nothing else:
if the question needs anything the tools do not give (a forecast, a write such as deleting or
changing data, any other subject), say plainly that you cannot answer it and why, then list what
you can answer; never answer a different question instead.
Answer in the user's language, professional and brief, in this order:
1. a short summary (one or two sentences with the key numbers);
2. **Insights**: two or three bullets (comparisons, shares, standouts) computed from the numbers shown;
3. **Recomendações** (or **Recommendations** in English): two or three practical actions that follow
   from those numbers.
Money in reais, Brazilian style: R$ 1.234,56."""


class AssistantUnavailable(RuntimeError):
    """The model could not answer (timeout, connection, refusal); the message is for the user."""


@dataclass(frozen=True)
class LlmSettings:
    base_url: str | None
    model: str
    api_key: str
    timeout_s: float

    @classmethod
    def from_env(cls) -> LlmSettings | None:
        """The model configured in the environment, or None for the rule-based mode."""
        base_url = os.environ.get("LIFTOFF_LLM_BASE_URL") or None
        api_key = os.environ.get("LIFTOFF_LLM_API_KEY", "")
        if not api_key and not base_url:
            return None
        return cls(
            base_url=base_url,
            model=os.environ.get("LIFTOFF_LLM_MODEL", "gpt-4o-mini"),
            # Local servers (Ollama) accept any key; the SDK insists on one.
            api_key=api_key or "not-needed",
            timeout_s=float(os.environ.get("LIFTOFF_LLM_TIMEOUT_S", DEFAULT_TIMEOUT_S)),
        )


def answer(dsn: str, question: str, history: list[dict[str, str]], llm: LlmSettings | None) -> Answer:
    """An answer by the model when one is configured and responds, else by rules (saying why)."""
    if llm is None:
        return answer_by_rules(dsn, question)
    try:
        return answer_with_llm(dsn, question, history, llm)
    except AssistantUnavailable as problem:
        fallback = answer_by_rules(dsn, question)
        fallback.notice = str(problem)
        return fallback


def _system_prompt(dsn: str) -> str:
    window = run_tool(dsn, "data_window").rows[0]
    first, last = window["first_day"], window["last_day"]
    if last is None:
        return SYSTEM_PROMPT.format(first="(none)", last="(none)", month_start="(none)")
    return SYSTEM_PROMPT.format(first=first, last=last, month_start=last.replace(day=1))


def answer_with_llm(dsn: str, question: str, history: list[dict[str, str]], llm: LlmSettings) -> Answer:
    import openai

    language = detect_language(question)
    deadline = time.monotonic() + llm.timeout_s
    client = openai.OpenAI(base_url=llm.base_url, api_key=llm.api_key, timeout=llm.timeout_s, max_retries=0)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": _system_prompt(dsn)},
        *[{"role": m["role"], "content": m["content"]} for m in history[-HISTORY_MESSAGES:]],
        {"role": "user", "content": question},
    ]
    results: list[ToolResult] = []
    for _ in range(MAX_TOOL_ROUNDS + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssistantUnavailable(_timeout_message(llm, language))
        try:
            response = client.with_options(timeout=remaining).chat.completions.create(
                model=llm.model, messages=messages, tools=tool_schemas(), temperature=0.2
            )
        except openai.APITimeoutError:
            raise AssistantUnavailable(_timeout_message(llm, language)) from None
        except openai.APIConnectionError:
            where = llm.base_url or "api.openai.com"
            raise AssistantUnavailable(
                f"Não consegui falar com o modelo em {where}; respondi pelo modo de regras."
                if language == "pt"
                else f"Could not reach the model at {where}; answered by rules."
            ) from None
        except openai.APIStatusError as error:
            raise AssistantUnavailable(
                f"O modelo recusou o pedido (HTTP {error.status_code}); respondi pelo modo de regras."
                if language == "pt"
                else f"The model refused the request (HTTP {error.status_code}); answered by rules."
            ) from None
        message = response.choices[0].message
        if not message.tool_calls:
            text = (message.content or "").strip()
            if not text:
                raise AssistantUnavailable(
                    "O modelo respondeu vazio." if language == "pt" else "Empty answer."
                )
            chartable = next((r for r in reversed(results) if chart_for(r)), None)
            return Answer(
                text, language=language, mode="llm", chart=chart_for(chartable), tool_results=results
            )
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": _run_call(dsn, call, results)}
            )
    raise AssistantUnavailable(
        "O modelo não concluiu a resposta (chamadas demais); respondi pelo modo de regras."
        if language == "pt"
        else "The model did not finish (too many tool calls); answered by rules."
    )


def _run_call(dsn: str, call, results: list[ToolResult]) -> str:
    """One tool call from the model: its rows as JSON, or the error the model should correct."""
    try:
        arguments = json.loads(call.function.arguments or "{}")
        if not isinstance(arguments, dict):
            raise ToolError("arguments must be a JSON object")
        result = run_tool(dsn, call.function.name, arguments)
    except (ToolError, json.JSONDecodeError) as error:
        return json.dumps({"error": str(error)})
    results.append(result)
    return result.to_json()


def _timeout_message(llm: LlmSettings, language: str) -> str:
    return (
        f"O modelo não respondeu em {llm.timeout_s:.0f} s; respondi pelo modo de regras."
        if language == "pt"
        else f"The model did not answer within {llm.timeout_s:.0f} s; answered by rules."
    )

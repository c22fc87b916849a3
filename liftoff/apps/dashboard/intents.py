"""The assistant without a model: common sales questions, in Portuguese or English, answered by rules
over the same allow-listed tools a model would call.

Covered: average ticket; top sellers (top N) in a period; sales of a product in a period (e.g.
yesterday); the best category (e.g. this month); top products; otherwise a summary of the period.

Relative days are relative to gold, not the wall clock: gold holds complete days, so its latest
sale date is "yesterday" and the day after it is "today" (true whenever the pipeline is current,
and still meaningful on a demo warehouse or a stale one). Every answer names the concrete dates.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from liftoff.apps.dashboard import formatting as fmt
from liftoff.apps.dashboard.answers import Answer, chart_for
from liftoff.apps.dashboard.tools import ToolResult, run_tool

DEFAULT_DAYS = 30
DEFAULT_TOP = 5
NUMBER_WORDS = {
    "dois": 2, "duas": 2, "two": 2, "tres": 3, "three": 3, "quatro": 4, "four": 4, "cinco": 5, "five": 5,
    "seis": 6, "six": 6, "sete": 7, "seven": 7, "oito": 8, "eight": 8, "nove": 9, "nine": 9, "dez": 10,
    "ten": 10,
}  # fmt: skip
PORTUGUESE_WORDS = {
    "ontem", "hoje", "mes", "qual", "quais", "quantos", "quantas", "vendedores", "vendedor", "vendas",
    "vendemos", "vendeu", "vendidos", "vendidas", "melhor", "melhores", "categoria", "medio", "produto",
    "semana", "este", "esta", "neste", "nesta", "do", "da", "de", "os", "as", "foi", "foram", "quem", "no",
    "na", "passado", "ultimos", "dias", "e", "o", "a",
}  # fmt: skip
ENGLISH_WORDS = {
    "yesterday", "today", "month", "which", "how", "many", "sellers", "seller", "sales", "sold", "best",
    "category", "average", "week", "the", "this", "last", "what", "who", "did", "of", "in", "was", "were",
    "days", "is", "product", "products",
}  # fmt: skip


def plain(text: str) -> str:
    """Lower case without accents, so 'Mês' and 'mes' (and 'Eletrônico'/'eletronico') match."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def detect_language(question: str) -> str:
    words = re.findall(r"[a-z]+", plain(question))
    portuguese = sum(word in PORTUGUESE_WORDS for word in words)
    english = sum(word in ENGLISH_WORDS for word in words)
    return "en" if english > portuguese else "pt"


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    label_pt: str
    label_en: str

    def label(self, language: str) -> str:
        return self.label_pt if language == "pt" else self.label_en

    def previous(self) -> Period:
        """The period of the same length just before this one (for comparisons)."""
        length = (self.end - self.start).days + 1
        end = self.start - timedelta(days=1)
        start = end - timedelta(days=length - 1)
        span = f"{fmt.day(start)} – {fmt.day(end)}"
        return Period(start, end, f"no período anterior ({span})", f"in the previous period ({span})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _span(start: date, end: date) -> str:
    return fmt.day(start) if start == end else f"{fmt.day(start)} – {fmt.day(end)}"


def resolve_period(question: str, latest: date) -> Period:
    """The period a question names, relative to gold's latest day ("yesterday")."""
    text = plain(question)
    today = latest + timedelta(days=1)
    if re.search(r"\bontem\b|\byesterday\b", text):
        return Period(latest, latest, f"ontem ({fmt.day(latest)})", f"yesterday ({fmt.day(latest)})")
    if re.search(r"\bhoje\b|\btoday\b", text):
        return Period(today, today, f"hoje ({fmt.day(today)})", f"today ({fmt.day(today)})")
    if re.search(r"\bmes passado\b|\bultimo mes\b|\blast month\b|\bprevious month\b", text):
        end = latest.replace(day=1) - timedelta(days=1)
        start = end.replace(day=1)
        span = _span(start, end)
        return Period(start, end, f"no mês passado ({span})", f"last month ({span})")
    if re.search(r"\b(n?est|n?ess|dest|dess)e mes\b|\bmes atual\b|\bthis month\b|\bcurrent month\b", text):
        start = latest.replace(day=1)
        span = _span(start, latest)
        return Period(start, latest, f"neste mês ({span})", f"this month ({span})")
    days = re.search(r"\bultimos (\d{1,3}) dias\b|\b(?:last|past) (\d{1,3}) days\b", text)
    if days:
        count = max(1, int(days.group(1) or days.group(2)))
        start = latest - timedelta(days=count - 1)
        span = _span(start, latest)
        return Period(
            start, latest, f"nos últimos {count} dias ({span})", f"in the last {count} days ({span})"
        )
    if re.search(r"\bsemana\b|\bweek\b", text):
        start = latest - timedelta(days=6)
        span = _span(start, latest)
        return Period(start, latest, f"nos últimos 7 dias ({span})", f"in the last 7 days ({span})")
    if re.search(r"\beste ano\b|\bneste ano\b|\bthis year\b", text):
        start = latest.replace(month=1, day=1)
        span = _span(start, latest)
        return Period(start, latest, f"neste ano ({span})", f"this year ({span})")
    start = latest - timedelta(days=DEFAULT_DAYS - 1)
    span = _span(start, latest)
    return Period(
        start,
        latest,
        f"nos últimos {DEFAULT_DAYS} dias ({span})",
        f"in the last {DEFAULT_DAYS} days ({span})",
    )


def top_count(question: str, default: int = DEFAULT_TOP) -> int:
    text = plain(question)
    digits = re.search(
        r"\b(\d{1,2})\b", re.sub(r"\b(ultimos|last|past) \d{1,3} days?|\bultimos \d+ dias", "", text)
    )
    if digits:
        return max(1, min(int(digits.group(1)), 50))
    for word, number in NUMBER_WORDS.items():
        if re.search(rf"\b{word}\b", text):
            return number
    return default


def _money(row: dict, key: str = "revenue") -> str:
    return fmt.brl(row.get(key) or 0)


def _change(now: float, before: float, language: str) -> str:
    if not before:
        return "sem base de comparação" if language == "pt" else "no baseline to compare with"
    change = (now - before) / before
    word = ("alta" if change >= 0 else "queda") if language == "pt" else ("up" if change >= 0 else "down")
    return (
        f"{word} de {fmt.percent(abs(change))}" if language == "pt" else f"{word} {fmt.percent(abs(change))}"
    )


def _compared(previous: Period, language: str) -> str:
    return (
        f"Em relação ao que houve {previous.label('pt')}: "
        if language == "pt"
        else f"Compared with {previous.label('en')}: "
    )


class RuleAssistant:
    """Answers one question by rules; `run` is the tool runner (the same allow-list a model uses)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.results: list[ToolResult] = []

    def tool(self, name: str, **arguments) -> ToolResult:
        result = run_tool(self.dsn, name, arguments)
        self.results.append(result)
        return result

    def answer(self, question: str) -> Answer:
        language = detect_language(question)
        window = self.tool("data_window").rows[0]
        if window["last_day"] is None:
            return Answer(
                "O gold ainda não tem vendas: rode o pipeline (`make demo`) e pergunte de novo."
                if language == "pt"
                else "Gold has no sales yet: run the pipeline (`make demo`) and ask again.",
                language=language,
                tool_results=self.results,
            )
        period = resolve_period(question, window["last_day"])
        text = plain(question)
        if re.search(r"\bticket\b|valor medio|average (order|sale|ticket)|\baov\b|gasto medio", text):
            answer = self.average_ticket(period, language)
        elif re.search(r"categor", text):
            answer = self.best_category(period, language)
        elif re.search(r"vendedor|seller|salesperson|sales ?(rep|people|person)|\bquem vendeu\b", text):
            answer = self.top_sellers(period, top_count(question), language)
        elif product := self.product_in(question):
            answer = self.product_sales(product, period, language)
        elif re.search(r"produto|product", text):
            answer = self.top_products(period, top_count(question), language)
        else:
            answer = self.summary(period, language)
        answer.language = language
        answer.tool_results = self.results
        return answer

    # -- the intents ---------------------------------------------------------------------------

    def average_ticket(self, period: Period, language: str) -> Answer:
        pt = language == "pt"
        now = self.tool("sales_summary", start_date=period.start, end_date=period.end).rows[0]
        if not now["sales"]:
            return self.no_sales(period, language)
        previous = period.previous()
        before = self.tool("sales_summary", start_date=previous.start, end_date=previous.end).rows[0]
        daily = self.tool("daily_revenue", start_date=period.start, end_date=period.end)
        ticket = float(now["average_ticket"])
        summary = (
            f"O ticket médio {period.label('pt')} foi **{fmt.brl(ticket)}** "
            f"({fmt.integer(now['sales'])} vendas, receita de {_money(now)})."
            if pt
            else f"The average ticket {period.label('en')} was **{fmt.brl(ticket)}** "
            f"({fmt.integer(now['sales'])} sales, {_money(now)} revenue)."
        )
        items_per_sale = float(now["items_sold"]) / float(now["sales"])
        was = fmt.brl(before["average_ticket"])
        insights = [
            _compared(previous, language)
            + _change(ticket, float(before["average_ticket"] or 0), language)
            + (f" (era {was})." if pt else f" (was {was}).")
            if before["sales"]
            else ("Sem vendas no período anterior." if pt else "No sales in the previous period."),
            (f"Cada venda leva em média {items_per_sale:.1f} itens.".replace(".", ",", 1) if pt
             else f"Each sale carries {items_per_sale:.1f} items on average."),
        ]  # fmt: skip
        recommendations = (
            [
                "Ofereça combos e itens complementares no checkout para elevar o ticket.",
                "Acompanhe o ticket por vendedor e compartilhe as abordagens de quem vende mais por venda.",
            ]
            if pt
            else [
                "Offer bundles and complementary items at checkout to lift the ticket.",
                "Track the ticket per seller and share the approaches of those who sell more per sale.",
            ]
        )
        chart = chart_for(daily, "Receita diária" if pt else "Daily revenue")
        return Answer(summary, insights, recommendations, chart)

    def top_sellers(self, period: Period, count: int, language: str) -> Answer:
        pt = language == "pt"
        sellers = self.tool("top_sellers", start_date=period.start, end_date=period.end, limit=count)
        if not sellers.rows:
            return self.no_sales(period, language)
        total = self.tool("sales_summary", start_date=period.start, end_date=period.end).rows[0]
        ranking = "; ".join(
            f"{place}. {row['seller_name']} ({_money(row)})" for place, row in enumerate(sellers.rows, 1)
        )
        summary = (
            f"Top {len(sellers.rows)} vendedores {period.label('pt')}: {ranking}."
            if pt
            else f"Top {len(sellers.rows)} sellers {period.label('en')}: {ranking}."
        )
        top_revenue = sum(float(row["revenue"]) for row in sellers.rows)
        share = top_revenue / float(total["revenue"]) if total["revenue"] else 0
        leader = sellers.rows[0]
        insights = [
            (f"Juntos, eles fizeram {fmt.percent(share)} da receita do período." if pt
             else f"Together they made {fmt.percent(share)} of the period's revenue."),
            (f"{leader['seller_name']} lidera com {fmt.integer(leader['sales'])} vendas "
             f"(ticket médio de {fmt.brl(float(leader['revenue']) / leader['sales'])})." if pt
             else f"{leader['seller_name']} leads with {fmt.integer(leader['sales'])} sales "
             f"(average ticket {fmt.brl(float(leader['revenue']) / leader['sales'])})."),
        ]  # fmt: skip
        if len(sellers.rows) > 1:
            gap = float(leader["revenue"]) - float(sellers.rows[1]["revenue"])
            insights.append(
                f"A diferença entre o 1º e o 2º lugar é de {fmt.brl(gap)}."
                if pt
                else f"The gap between first and second place is {fmt.brl(gap)}."
            )
        recommendations = (
            [
                f"Peça a {leader['seller_name']} para compartilhar como conduz as vendas com o time.",
                "Dê atenção a quem ficou fora do ranking: metas semanais e acompanhamento próximo.",
            ]
            if pt
            else [
                f"Ask {leader['seller_name']} to share their approach with the team.",
                "Coach those outside the ranking with weekly targets and close follow-up.",
            ]
        )
        return Answer(summary, insights, recommendations, chart_for(sellers, "Receita por vendedor"))

    def product_in(self, question: str) -> str | None:
        """The product a question names: the longest catalog name inside it, else `how many X`."""
        named = self.tool("products_named_in", text=question).rows
        if named:
            return named[0]["product_name"]
        asked = re.search(
            r"(?:quant[oa]s|how many)\s+(.+?)\s+(?:\w+\s+)?(?:vend|sold|foram|were)", question, re.IGNORECASE
        )
        if asked:
            words = asked.group(1).split()
            while words and plain(words[0]) in {"unidades", "units", "de", "of", "the", "o", "a", "os", "as"}:
                words.pop(0)
            return " ".join(words) or None
        return None

    def product_sales(self, product: str, period: Period, language: str) -> Answer:
        pt = language == "pt"
        found = self.tool("product_sales", product=product, start_date=period.start, end_date=period.end)
        if not found.rows:
            summary = (
                f"Nenhuma venda de “{product}” {period.label('pt')}."
                if pt
                else f"No sales of “{product}” {period.label('en')}."
            )
            recommendations = (
                ["Confira o nome do produto ou pergunte por um período maior (ex.: 'este mês')."]
                if pt
                else ["Check the product name or ask about a longer period (e.g. 'this month')."]
            )
            return Answer(summary, [], recommendations)
        main = found.rows[0]
        summary = (
            f"{main['product_name']}: **{fmt.integer(main['items_sold'])} itens** em "
            f"{fmt.integer(main['sales'])} vendas ({_money(main)}) {period.label('pt')}."
            if pt
            else f"{main['product_name']}: **{fmt.integer(main['items_sold'])} items** in "
            f"{fmt.integer(main['sales'])} sales ({_money(main)}) {period.label('en')}."
        )
        previous = self.tool(
            "product_sales",
            product=product,
            start_date=period.previous().start,
            end_date=period.previous().end,
        )
        before = next((r for r in previous.rows if r["product_name"] == main["product_name"]), None)
        insights = [
            _compared(period.previous(), language)
            + _change(float(main["items_sold"]), float(before["items_sold"]) if before else 0, language)
            + (" em itens." if pt else " in items."),
        ]  # fmt: skip
        if len(found.rows) > 1:
            others = ", ".join(
                f"{r['product_name']} ({fmt.integer(r['items_sold'])})" for r in found.rows[1:5]
            )
            insights.append(
                f"Outros produtos com esse nome: {others}." if pt else f"Other matching products: {others}."
            )
        recommendations = (
            ["Garanta estoque para o ritmo atual e destaque o produto nas campanhas da categoria "
             f"{main['category']}."]
            if pt
            else [f"Keep stock for the current pace and feature the product in {main['category']} campaigns."]
        )  # fmt: skip
        return Answer(summary, insights, recommendations, chart_for(found, "Receita por produto"))

    def best_category(self, period: Period, language: str) -> Answer:
        pt = language == "pt"
        categories = self.tool("category_sales", start_date=period.start, end_date=period.end)
        if not categories.rows:
            return self.no_sales(period, language)
        best = categories.rows[0]
        total = sum(float(row["revenue"]) for row in categories.rows)
        share = float(best["revenue"]) / total if total else 0
        name = best["category"]
        summary = (
            f"A melhor categoria {period.label('pt')} foi **{name}**, com {_money(best)} "
            f"({fmt.percent(share)} da receita) em {fmt.integer(best['sales'])} vendas."
            if pt
            else f"The best category {period.label('en')} was **{name}**, with {_money(best)} "
            f"({fmt.percent(share)} of revenue) in {fmt.integer(best['sales'])} sales."
        )
        ranking = ", ".join(f"{row['category']} {_money(row)}" for row in categories.rows)
        worst = categories.rows[-1]
        insights = [
            f"Ranking: {ranking}.",
            (f"{worst['category']} é a categoria com menor receita ({_money(worst)})." if pt
             else f"{worst['category']} has the lowest revenue ({_money(worst)})."),
        ]  # fmt: skip
        recommendations = (
            [
                f"Use os campeões de {best['category']} como âncora de ofertas cruzadas.",
                f"Revise preço e exposição de {worst['category']} antes de investir em mídia.",
            ]
            if pt
            else [
                f"Use the {best['category']} best sellers as anchors for cross-sell offers.",
                f"Review pricing and visibility of {worst['category']} before spending on ads.",
            ]
        )
        return Answer(summary, insights, recommendations, chart_for(categories, "Receita por categoria"))

    def top_products(self, period: Period, count: int, language: str) -> Answer:
        pt = language == "pt"
        products = self.tool("top_products", start_date=period.start, end_date=period.end, limit=count)
        if not products.rows:
            return self.no_sales(period, language)
        ranking = "; ".join(f"{i}. {r['product_name']} ({_money(r)})" for i, r in enumerate(products.rows, 1))
        summary = (
            f"Produtos com mais receita {period.label('pt')}: {ranking}."
            if pt
            else f"Top products by revenue {period.label('en')}: {ranking}."
        )
        recommendations = (
            ["Mantenha estoque dos líderes e use-os nas recomendações de cross-sell."]
            if pt
            else ["Keep the leaders in stock and use them in cross-sell recommendations."]
        )
        return Answer(summary, [], recommendations, chart_for(products, "Receita por produto"))

    def summary(self, period: Period, language: str) -> Answer:
        pt = language == "pt"
        now = self.tool("sales_summary", start_date=period.start, end_date=period.end).rows[0]
        if not now["sales"]:
            return self.no_sales(period, language)
        daily = self.tool("daily_revenue", start_date=period.start, end_date=period.end)
        summary = (
            f"Vendas {period.label('pt')}: receita de **{_money(now)}**, {fmt.integer(now['sales'])} vendas, "
            f"{fmt.integer(now['items_sold'])} itens, ticket médio de {fmt.brl(now['average_ticket'])}."
            if pt
            else f"Sales {period.label('en')}: **{_money(now)}** revenue, {fmt.integer(now['sales'])} sales, "
            f"{fmt.integer(now['items_sold'])} items, average ticket {fmt.brl(now['average_ticket'])}."
        )
        best = max(daily.rows, key=lambda row: row["revenue"])
        insights = [
            f"Melhor dia: {fmt.day(best['sale_date'])} ({_money(best)})."
            if pt
            else f"Best day: {fmt.day(best['sale_date'])} ({_money(best)})."
        ]
        recommendations = (
            ["Pergunte também: ticket médio, top vendedores, vendas de um produto ontem, melhor categoria."]
            if pt
            else ["Also try: average ticket, top sellers, sales of a product yesterday, best category."]
        )
        return Answer(summary, insights, recommendations, chart_for(daily, "Receita diária"))

    def no_sales(self, period: Period, language: str) -> Answer:
        return Answer(
            f"Não há vendas registradas {period.label('pt')}."
            if language == "pt"
            else f"There are no sales recorded {period.label('en')}."
        )


def answer_by_rules(dsn: str, question: str) -> Answer:
    return RuleAssistant(dsn).answer(question)

"""The assistant without a model: common sales and staff questions, in Portuguese or English,
answered by rules over the same allow-listed tools a model would call.

Covered (`CAPABILITIES`): revenue, sales and average ticket of a period; a comparison of two
periods ("ontem em relação a anteontem", "this month versus last month"); top sellers; the
products or categories that sold most (units, unless the question says revenue) or made the most
revenue; a product's sales; new customers; the monthly payroll; the staff (head count by gender,
hires, average salary by job title). Anything else is answered plainly as not covered, with the
list of what is: a forecast (gold holds what happened, not what will) and a write (the assistant
reads gold through a read-only role) are refused with their reason, never answered by a summary
of something else. Every answer with numbers ends with insights and recommendations computed
from those numbers.

Relative days are relative to gold, not the wall clock: gold's latest sale date is "yesterday" and
the day after it is "today" (true whenever the pipeline is current, and still meaningful on a demo
warehouse or a stale one). Every answer names the concrete dates.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from liftoff.apps.dashboard import formatting as fmt
from liftoff.apps.dashboard.answers import Answer, ChartSpec, chart_for
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
    "na", "passado", "ultimos", "dias", "e", "o", "a", "como", "folha", "pagamento", "clientes", "novos",
    "tivemos", "previsao", "para", "apague", "todas", "receita", "faturamento", "anteontem", "em",
    "relacao", "ao", "funcionarios", "mais", "vendido",
}  # fmt: skip
ENGLISH_WORDS = {
    "yesterday", "today", "month", "which", "how", "many", "sellers", "seller", "sales", "sold", "best",
    "category", "average", "week", "the", "this", "last", "what", "who", "did", "of", "in", "was", "were",
    "days", "is", "product", "products", "revenue", "compared", "to", "day", "before", "delete", "all",
    "payroll", "customers", "new", "forecast", "employees", "staff", "most", "we", "have",
}  # fmt: skip

# What each intent listens for (on plain text: lower case, no accents).
WRITE = re.compile(
    r"\b(delete|apag\w*|remov\w*|drop|truncate|insert|inser[ei]r?|insira|exclu[ia]r?|exclua"
    r"|cadastr\w*|alter[ae]r?|grant|zer[ae]r?|update (all|the|every|sales|data|prices?|records?))\b"
)
FORECAST = re.compile(
    r"previs|forecast|predict|projec|estimativ|vai vender|vamos vender|venderemos|will (we )?sell"
    r"|next (month|week|year)|proxim[oa] (mes|semana|ano)"
)
SALARY_BY_TITLE = re.compile(
    r"(salari|salary|remunera)\w*.*\b(cargo|cargos|funcao|title|titles|role|roles)\b"
)
PAYROLL = re.compile(r"\bfolha\b|payroll|salari|salary|salaries|wage|remunera")
HEADCOUNT = re.compile(
    r"funcionari|colaborador|empregad|headcount|head count|employees|staff|quadro|equipe|contrata"
    r"|\bhires?\b|\bhired\b|hiring|genero|gender"
)
NEW_CUSTOMERS = re.compile(
    r"clientes? nov|nov[oa]s? clientes?|new customers?|first[- ]time|primeira compra|novos compradores"
)
COMPARISON = re.compile(
    r"\bcompar\w*|\bversus\b|\bvs\b\.?|em relacao (a|ao|à)|\bfrente a\b|\bcontra (o|a)\b|\bagainst\b"
    r"|relative to"
)
TICKET = re.compile(r"\bticket\b|valor medio|average (order|sale|ticket)|\baov\b|gasto medio")
CATEGORY = re.compile(r"categor")
SELLER = re.compile(
    r"vendedor|seller|salesperson|sales ?(rep|people|person)|\bquem (mais )?vendeu\b|\bwho sold\b"
)
PRODUCT = re.compile(r"produto|product")
SOLD_MOST = re.compile(
    r"\bmais vendid\w*|\bvend\w* mais\b|\bsold (the )?most\b|\bmost[- ]sold\b|\bbest[- ]?selling\b"
    r"|\btop[- ]selling\b|\bsold best\b|\bsells? (the )?(best|most)\b|\bmais sai\w*|\bsai\w* mais\b"
)
REVENUE = re.compile(r"fatur|receita|revenue|r\$|\bvalor\b|dinheiro|money|turnover|income|earn")
SALES_TOPIC = re.compile(
    r"vend|sales|\bsold\b|\bsell|fatur|receita|revenue|resumo|summary|desempenho|performance"
)


def plain(text: str) -> str:
    """Lower case without accents, so 'Mês' and 'mes' (and 'Eletrônico'/'eletronico') match."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def detect_language(question: str) -> str:
    words = re.findall(r"[a-z]+", plain(question))
    portuguese = sum(word in PORTUGUESE_WORDS for word in words)
    english = sum(word in ENGLISH_WORDS for word in words)
    return "en" if english > portuguese else "pt"


def ranks_by_units(question: str) -> bool:
    """'What sold most' means units; it means revenue only when the question says so."""
    text = plain(question)
    return bool(SOLD_MOST.search(text)) and not REVENUE.search(text)


CAPABILITIES = {
    "pt": [
        "receita, número de vendas, itens e ticket médio de um período (ontem, esta semana, este mês, "
        "mês passado, últimos N dias);",
        "comparação entre dois períodos (ex.: “receita de ontem em relação a anteontem”);",
        "top N vendedores; produtos e categorias mais vendidos (em unidades) ou com mais receita; "
        "as vendas de um produto;",
        "clientes novos (primeira compra) de um período;",
        "folha de pagamento mensal; funcionários (por gênero, contratações por mês, salário médio "
        "por cargo).",
    ],
    "en": [
        "revenue, number of sales, items and average ticket of a period (yesterday, this week, this month, "
        "last month, last N days);",
        "a comparison of two periods (e.g. “revenue yesterday compared to the day before”);",
        "top N sellers; the products and categories that sold most (units) or made the most revenue; "
        "a product's sales;",
        "new customers (first purchase) in a period;",
        "the monthly payroll; staff (by gender, hires per month, average salary by job title).",
    ],
}


def capabilities(language: str) -> str:
    intro = (
        "O que eu sei responder, a partir do gold:" if language == "pt" else "What I can answer from gold:"
    )
    return intro + "\n" + "\n".join(f"- {line}" for line in CAPABILITIES[language])


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
        span = _span(start, end)
        if length == 1:
            return Period(start, end, f"no dia anterior ({span})", f"the day before ({span})")
        return Period(start, end, f"no período anterior ({span})", f"in the previous period ({span})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _span(start: date, end: date) -> str:
    return fmt.day(start) if start == end else f"{fmt.day(start)} – {fmt.day(end)}"


def _last_days(latest: date, count: int, offset: int = 0) -> tuple[date, date]:
    end = latest - timedelta(days=offset)
    return end - timedelta(days=count - 1), end


def named_period(question: str, latest: date) -> Period | None:
    """The period a question names, relative to gold's latest day ("yesterday"); None if none."""
    text = plain(question)
    today = latest + timedelta(days=1)
    if re.search(r"\banteontem\b|\bday before yesterday\b", text):
        day = latest - timedelta(days=1)
        return Period(day, day, f"anteontem ({fmt.day(day)})", f"the day before yesterday ({fmt.day(day)})")
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
        start, end = _last_days(latest, count)
        span = _span(start, end)
        return Period(start, end, f"nos últimos {count} dias ({span})", f"in the last {count} days ({span})")
    if re.search(r"\bsemana passada\b|\bsemana anterior\b|\blast week\b|\bprevious week\b", text):
        start, end = _last_days(latest, 7, offset=7)
        span = _span(start, end)
        return Period(start, end, f"na semana anterior ({span})", f"the week before ({span})")
    if re.search(r"\bsemana\b|\bweek\b", text):
        start, end = _last_days(latest, 7)
        span = _span(start, end)
        return Period(start, end, f"nos últimos 7 dias ({span})", f"in the last 7 days ({span})")
    if re.search(r"\beste ano\b|\bneste ano\b|\bthis year\b", text):
        start = latest.replace(month=1, day=1)
        span = _span(start, latest)
        return Period(start, latest, f"neste ano ({span})", f"this year ({span})")
    return None


def resolve_period(question: str, latest: date) -> Period:
    """The period a question names, else the last `DEFAULT_DAYS` days up to gold's latest day."""
    named = named_period(question, latest)
    if named is not None:
        return named
    start, end = _last_days(latest, DEFAULT_DAYS)
    span = _span(start, end)
    return Period(
        start, end, f"nos últimos {DEFAULT_DAYS} dias ({span})", f"in the last {DEFAULT_DAYS} days ({span})"
    )


def compared_periods(question: str, latest: date) -> tuple[Period, Period]:
    """The two periods of "X compared to Y": Y named after the comparison word, else the period
    of the same length just before X ("the day before", "o período anterior")."""
    text = plain(question)
    match = COMPARISON.search(text)
    before, after = (text[: match.start()], text[match.end() :]) if match else (text, "")
    first = named_period(before, latest) or resolve_period(text, latest)
    second = named_period(after, latest)
    if second is None or (second.start, second.end) == (first.start, first.end):
        second = first.previous()
    return first, second


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


def _ratio(now: float, before: float) -> float | None:
    return (now - before) / before if before else None


def _change(now: float, before: float, language: str) -> str:
    change = _ratio(now, before)
    if change is None:
        return "sem base de comparação" if language == "pt" else "no baseline to compare with"
    if language == "pt":
        return f"{'alta' if change >= 0 else 'queda'} de {fmt.percent(abs(change))}"
    return f"{'up' if change >= 0 else 'down'} {fmt.percent(abs(change))}"


def _compared(previous: Period, language: str) -> str:
    return (
        f"Em relação ao que houve {previous.label('pt')}: "
        if language == "pt"
        else f"Compared with {previous.label('en')}: "
    )


def _decimal(value: float, language: str, places: int = 1) -> str:
    text = f"{value:,.{places}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".") if language == "pt" else text


class RuleAssistant:
    """Answers one question by rules over the tools (the same allow-list a model uses)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.results: list[ToolResult] = []
        self.language = "pt"

    def t(self, portuguese: str, english: str) -> str:
        return portuguese if self.language == "pt" else english

    def tool(self, name: str, **arguments) -> ToolResult:
        result = run_tool(self.dsn, name, arguments)
        self.results.append(result)
        return result

    def answer(self, question: str) -> Answer:
        self.language = language = detect_language(question)
        text = plain(question)
        # Refusals and staff questions first: none of them is a sales question in disguise.
        if WRITE.search(text):
            answer = self.refuse_write()
        elif FORECAST.search(text):
            answer = self.refuse_forecast()
        elif SALARY_BY_TITLE.search(text):
            answer = self.salary_by_title()
        elif PAYROLL.search(text):
            answer = self.payroll()
        elif HEADCOUNT.search(text) and not SELLER.search(text):
            answer = self.headcount()
        else:
            window = self.tool("data_window").rows[0]
            if window["last_day"] is None:
                answer = Answer(
                    self.t(
                        "O gold ainda não tem vendas: rode o pipeline (`make demo`) e pergunte de novo.",
                        "Gold has no sales yet: run the pipeline (`make demo`) and ask again.",
                    )
                )
            else:
                answer = self.sales_answer(question, text, window["last_day"])
        answer.language = language
        answer.tool_results = self.results
        return answer

    def sales_answer(self, question: str, text: str, latest: date) -> Answer:
        period = resolve_period(question, latest)
        units = ranks_by_units(question)
        if NEW_CUSTOMERS.search(text):
            return self.new_customers(period)
        if COMPARISON.search(text):
            first, second = compared_periods(question, latest)
            if not TICKET.search(text) and (product := self.product_in(question)):
                return self.product_comparison(product, first, second)
            return self.comparison(first, second, ticket=bool(TICKET.search(text)))
        if TICKET.search(text):
            return self.average_ticket(period)
        if CATEGORY.search(text):
            return self.best_category(period, units)
        if SELLER.search(text):
            return self.top_sellers(period, top_count(question), units)
        if product := self.product_in(question):
            return self.product_sales(product, period)
        if PRODUCT.search(text) or SOLD_MOST.search(text):
            return self.top_products(period, top_count(question), units)
        if SALES_TOPIC.search(text) or named_period(question, latest) is not None:
            return self.summary(period)
        return self.not_covered()

    # -- what the rules do not answer ----------------------------------------------------------

    def not_covered(self) -> Answer:
        return Answer(
            self.t(
                "Não sei responder a essa pergunta: ela não está entre as que respondo com os dados do gold.",
                "I cannot answer that question: it is not among those I answer from gold's data.",
            )
            + "\n\n"
            + capabilities(self.language)
        )

    def refuse_write(self) -> Answer:
        return Answer(
            self.t(
                "Não posso apagar nem alterar dados: sou um assistente somente de leitura (consulto o gold "
                "com um papel que só pode ler, e nada do que respondo muda o warehouse). Alterações de "
                "vendas e cadastros são feitas pela API do CRM.",
                "I cannot delete or change data: I am a read-only assistant (I query gold through a role "
                "that can only read, and nothing I answer changes the warehouse). Sales and records are "
                "changed through the CRM API.",
            )
            + "\n\n"
            + capabilities(self.language)
        )

    def refuse_forecast(self) -> Answer:
        return Answer(
            self.t(
                "Não faço previsões: respondo apenas com o que o gold já registrou (vendas que aconteceram), "
                "e uma previsão exigiria um modelo estatístico que não tenho; um número inventado seria "
                "pior que nenhum. Posso mostrar o histórico e a tendência recente (ex.: “receita dos "
                "últimos 30 dias em relação ao período anterior”).",
                "I do not make forecasts: I answer only with what gold has recorded (sales that happened), "
                "and a forecast would need a statistical model I do not have; an invented number would be "
                "worse than none. I can show the history and the recent trend (e.g. “revenue in the last "
                "30 days compared to the previous period”).",
            )
            + "\n\n"
            + capabilities(self.language)
        )

    # -- sales ---------------------------------------------------------------------------------

    def comparison(self, first: Period, second: Period, ticket: bool) -> Answer:
        """Both periods' figures and the change, the asked measure first."""
        now = self.tool("sales_summary", start_date=first.start, end_date=first.end).rows[0]
        then = self.tool("sales_summary", start_date=second.start, end_date=second.end).rows[0]
        if not now["sales"] and not then["sales"]:
            return Answer(
                self.t(
                    f"Não há vendas {first.label('pt')} nem {second.label('pt')}.",
                    f"There are no sales {first.label('en')} nor {second.label('en')}.",
                )
            )
        if not now["sales"] or not then["sales"]:
            # One side has no sales: no percentage to give, say which side is empty.
            empty, full = (first, second) if not now["sales"] else (second, first)
            answer = self.summary(full)
            answer.summary = (
                self.t(
                    f"Não há vendas {empty.label('pt')} para comparar; ",
                    f"There are no sales {empty.label('en')} to compare with; ",
                )
                + answer.summary[0].lower()
                + answer.summary[1:]
            )
            return answer
        measures = [
            ("revenue", self.t("Receita", "Revenue"), fmt.brl),
            ("sales", self.t("Vendas", "Sales"), fmt.integer),
            ("items_sold", self.t("Itens", "Items"), fmt.integer),
            ("average_ticket", self.t("Ticket médio", "Average ticket"), fmt.brl),
        ]
        if ticket:
            measures.insert(0, measures.pop(3))
        key, name, show = measures[0]
        a, b = float(now[key] or 0), float(then[key] or 0)
        difference = a - b
        sign = "+" if difference >= 0 else "-"
        summary = self.t(
            f"{name} {first.label('pt')}: **{show(a)}**; {second.label('pt')}: **{show(b)}** — "
            f"{_change(a, b, 'pt')} ({sign}{show(abs(difference))}).",
            f"{name} {first.label('en')}: **{show(a)}**; {second.label('en')}: **{show(b)}** — "
            f"{_change(a, b, 'en')} ({sign}{show(abs(difference))}).",
        )
        insights = [
            f"{other}: {show_other(float(now[k] or 0))} × {show_other(float(then[k] or 0))} "
            f"({_change(float(now[k] or 0), float(then[k] or 0), self.language)})."
            for k, other, show_other in measures[1:]
        ]
        revenue_change = _ratio(float(now["revenue"] or 0), float(then["revenue"] or 0))
        ticket_change = _ratio(float(now["average_ticket"] or 0), float(then["average_ticket"] or 0))
        sales_change = _ratio(float(now["sales"] or 0), float(then["sales"] or 0))
        recommendations = []
        if revenue_change is not None and sales_change is not None and ticket_change is not None:
            if revenue_change < 0 and sales_change < 0:
                recommendations.append(
                    self.t(
                        f"O número de vendas caiu {fmt.percent(-sales_change)}: reforce a divulgação e a "
                        "campanha de cross-sell para recuperar o volume.",
                        f"The number of sales fell {fmt.percent(-sales_change)}: step up promotion and the "
                        "cross-sell campaign to win the volume back.",
                    )
                )
            if ticket_change < 0:
                recommendations.append(
                    self.t(
                        f"O ticket médio caiu {fmt.percent(-ticket_change)} "
                        f"({fmt.brl(then['average_ticket'])} → {fmt.brl(now['average_ticket'])}): ofereça "
                        "combos e itens complementares no checkout.",
                        f"The average ticket fell {fmt.percent(-ticket_change)} "
                        f"({fmt.brl(then['average_ticket'])} → {fmt.brl(now['average_ticket'])}): offer "
                        "bundles and complementary items at checkout.",
                    )
                )
            if revenue_change >= 0:
                recommendations.append(
                    self.t(
                        f"A receita subiu {fmt.percent(revenue_change)}: veja no ranking de produtos e "
                        "vendedores o que puxou a alta e repita.",
                        f"Revenue rose {fmt.percent(revenue_change)}: check the product and seller rankings "
                        "for what drove it and repeat it.",
                    )
                )
        if not recommendations:
            recommendations.append(
                self.t(
                    f"A receita foi {fmt.brl(now['revenue'])} contra {fmt.brl(then['revenue'])}: acompanhe o "
                    "próximo período antes de mudar a estratégia.",
                    f"Revenue was {fmt.brl(now['revenue'])} against {fmt.brl(then['revenue'])}: watch "
                    "the next period before changing course.",
                )
            )
        chart = ChartSpec(
            "bar",
            [
                {"period": second.label(self.language), key: b},
                {"period": first.label(self.language), key: a},
            ],
            "period",
            key,
            name,
            money=key in ("revenue", "average_ticket"),
        )
        return Answer(summary, insights, recommendations, chart)

    def average_ticket(self, period: Period) -> Answer:
        pt = self.language == "pt"
        now = self.tool("sales_summary", start_date=period.start, end_date=period.end).rows[0]
        if not now["sales"]:
            return self.no_sales(period)
        previous = period.previous()
        before = self.tool("sales_summary", start_date=previous.start, end_date=previous.end).rows[0]
        daily = self.tool("daily_revenue", start_date=period.start, end_date=period.end)
        ticket = float(now["average_ticket"])
        summary = self.t(
            f"O ticket médio {period.label('pt')} foi **{fmt.brl(ticket)}** "
            f"({fmt.integer(now['sales'])} vendas, receita de {_money(now)}).",
            f"The average ticket {period.label('en')} was **{fmt.brl(ticket)}** "
            f"({fmt.integer(now['sales'])} sales, {_money(now)} revenue).",
        )
        items_per_sale = float(now["items_sold"]) / float(now["sales"])
        was = fmt.brl(before["average_ticket"])
        change = _ratio(ticket, float(before["average_ticket"] or 0)) if before["sales"] else None
        insights = [
            _compared(previous, self.language)
            + _change(ticket, float(before["average_ticket"] or 0), self.language)
            + self.t(f" (era {was}).", f" (was {was}).")
            if before["sales"]
            else self.t("Sem vendas no período anterior.", "No sales in the previous period."),
            self.t(
                f"Cada venda leva em média {_decimal(items_per_sale, 'pt')} itens.",
                f"Each sale carries {_decimal(items_per_sale, 'en')} items on average.",
            ),
        ]
        if change is not None and change < 0:
            first = self.t(
                f"O ticket caiu {fmt.percent(-change)} ({was} → {fmt.brl(ticket)}): ofereça combos e itens "
                "complementares no checkout para recuperá-lo.",
                f"The ticket fell {fmt.percent(-change)} ({was} → {fmt.brl(ticket)}): offer bundles and "
                "complementary items at checkout to recover it.",
            )
        elif change is not None:
            first = self.t(
                f"O ticket subiu {fmt.percent(change)} ({was} → {fmt.brl(ticket)}): mantenha as ofertas do "
                "período e destaque-as na campanha de cross-sell.",
                f"The ticket rose {fmt.percent(change)} ({was} → {fmt.brl(ticket)}): keep the period's "
                "offers and feature them in the cross-sell campaign.",
            )
        else:
            first = self.t(
                f"Use {fmt.brl(ticket)} como referência de ticket para o próximo período.",
                f"Use {fmt.brl(ticket)} as the ticket baseline for the next period.",
            )
        second = self.t(
            f"Com {_decimal(items_per_sale, 'pt')} itens por venda, sugira um item complementar em cada "
            "venda: cada item a mais por venda pesa no ticket.",
            f"At {_decimal(items_per_sale, 'en')} items per sale, suggest one complementary item per sale: "
            "each extra item per sale moves the ticket.",
        )
        chart = chart_for(daily, "Receita diária" if pt else "Daily revenue")
        return Answer(summary, insights, [first, second], chart)

    def top_sellers(self, period: Period, count: int, units: bool = False) -> Answer:
        measure = "items_sold" if units else "revenue"
        sellers = self.tool(
            "top_sellers", start_date=period.start, end_date=period.end, limit=count, rank_by=measure
        )
        if not sellers.rows:
            return self.no_sales(period)
        total = self.tool("sales_summary", start_date=period.start, end_date=period.end).rows[0]
        shown = self._measure(measure)
        ranking = "; ".join(
            f"{place}. {row['seller_name']} ({shown(row)})" for place, row in enumerate(sellers.rows, 1)
        )
        by = self.t(" por itens vendidos", " by items sold") if units else ""
        summary = self.t(
            f"Top {len(sellers.rows)} vendedores{by} {period.label('pt')}: {ranking}.",
            f"Top {len(sellers.rows)} sellers{by} {period.label('en')}: {ranking}.",
        )
        top_total = sum(float(row[measure]) for row in sellers.rows)
        share = top_total / float(total[measure]) if total[measure] else 0
        leader = sellers.rows[0]
        leader_ticket = fmt.brl(float(leader["revenue"]) / leader["sales"])
        insights = [
            self.t(
                f"Juntos, eles fizeram {fmt.percent(share)} "
                f"{'dos itens' if units else 'da receita'} do período.",
                f"Together they made {fmt.percent(share)} of the period's {'items' if units else 'revenue'}.",
            ),
            self.t(
                f"{leader['seller_name']} lidera com {fmt.integer(leader['sales'])} vendas "
                f"(ticket médio de {leader_ticket}).",
                f"{leader['seller_name']} leads with {fmt.integer(leader['sales'])} sales "
                f"(average ticket {leader_ticket}).",
            ),
        ]
        recommendations = [
            self.t(
                f"Peça a {leader['seller_name']} ({shown(leader)}) para compartilhar com o time como conduz "
                "as vendas.",
                f"Ask {leader['seller_name']} ({shown(leader)}) to share their approach with the team.",
            )
        ]
        if len(sellers.rows) > 1:
            gap = float(leader[measure]) - float(sellers.rows[1][measure])
            gap_text = fmt.integer(gap) + self.t(" itens", " items") if units else fmt.brl(gap)
            insights.append(
                self.t(
                    f"A diferença entre o 1º e o 2º lugar é de {gap_text}.",
                    f"The gap between first and second place is {gap_text}.",
                )
            )
        recommendations.append(
            self.t(
                f"Os {len(sellers.rows)} primeiros somam {fmt.percent(share)}: "
                + (
                    "a receita depende de poucos; dê metas semanais e acompanhamento a quem ficou fora."
                    if share >= 0.5
                    else "o resultado está distribuído; reconheça o ranking e mantenha metas por pessoa."
                ),
                f"The top {len(sellers.rows)} make {fmt.percent(share)}: "
                + (
                    "revenue rests on a few; give the others weekly targets and close follow-up."
                    if share >= 0.5
                    else "the result is spread out; recognise the ranking and keep per-person targets."
                ),
            )
        )
        chart = self._ranking_chart(sellers, "seller_name", measure, self.t("Vendedores", "Sellers"))
        return Answer(summary, insights, recommendations, chart)

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

    def product_sales(self, product: str, period: Period) -> Answer:
        found = self.tool("product_sales", product=product, start_date=period.start, end_date=period.end)
        if not found.rows:
            return Answer(
                self.t(
                    f"Nenhuma venda de “{product}” {period.label('pt')}.",
                    f"No sales of “{product}” {period.label('en')}.",
                )
                + "\n\n"
                + self.t(
                    "Confira o nome do produto ou pergunte por um período maior (ex.: “este mês”).",
                    "Check the product name or ask about a longer period (e.g. “this month”).",
                )
            )
        main = found.rows[0]
        summary = self.t(
            f"{main['product_name']}: **{fmt.integer(main['items_sold'])} itens** em "
            f"{fmt.integer(main['sales'])} vendas ({_money(main)}) {period.label('pt')}.",
            f"{main['product_name']}: **{fmt.integer(main['items_sold'])} items** in "
            f"{fmt.integer(main['sales'])} sales ({_money(main)}) {period.label('en')}.",
        )
        previous = period.previous()
        earlier = self.tool(
            "product_sales", product=product, start_date=previous.start, end_date=previous.end
        )
        before = next((r for r in earlier.rows if r["product_name"] == main["product_name"]), None)
        insights = [
            _compared(previous, self.language)
            + _change(float(main["items_sold"]), float(before["items_sold"]) if before else 0, self.language)
            + self.t(" em itens.", " in items."),
        ]
        if len(found.rows) > 1:
            others = ", ".join(
                f"{r['product_name']} ({fmt.integer(r['items_sold'])})" for r in found.rows[1:5]
            )
            insights.append(
                self.t(f"Outros produtos com esse nome: {others}.", f"Other matching products: {others}.")
            )
        pace = float(main["items_sold"]) / period.days
        recommendations = [
            self.t(
                f"Garanta estoque para o ritmo de {_decimal(pace, 'pt')} itens por dia "
                f"({fmt.integer(main['items_sold'])} em {period.days} dias) e destaque o produto nas "
                f"campanhas da categoria {main['category']}.",
                f"Keep stock for a pace of {_decimal(pace, 'en')} items a day "
                f"({fmt.integer(main['items_sold'])} in {period.days} days) and feature the product in "
                f"{main['category']} campaigns.",
            )
        ]
        return Answer(summary, insights, recommendations, chart_for(found, "Receita por produto"))

    def product_comparison(self, product: str, first: Period, second: Period) -> Answer:
        """A product's items and revenue in both periods, and the change."""
        found = [
            self.tool("product_sales", product=product, start_date=p.start, end_date=p.end).rows
            for p in (first, second)
        ]
        name = (found[0] or found[1] or [{"product_name": product}])[0]["product_name"]
        now, then = (next((r for r in rows if r["product_name"] == name), None) for rows in found)
        if now is None and then is None:
            return Answer(
                self.t(
                    f"Nenhuma venda de “{product}” {first.label('pt')} nem {second.label('pt')}.",
                    f"No sales of “{product}” {first.label('en')} nor {second.label('en')}.",
                )
            )
        items = [int(row["items_sold"]) if row else 0 for row in (now, then)]
        money = [float(row["revenue"]) if row else 0.0 for row in (now, then)]
        counts = [fmt.integer(count) for count in items]
        summary = self.t(
            f"{name}: **{counts[0]} itens** {first.label('pt')}; **{counts[1]} itens** "
            f"{second.label('pt')} — {_change(items[0], items[1], 'pt')} em itens.",
            f"{name}: **{counts[0]} items** {first.label('en')}; **{counts[1]} items** "
            f"{second.label('en')} — {_change(items[0], items[1], 'en')} in items.",
        )
        insights = [
            self.t(
                f"Receita: {fmt.brl(money[0])} × {fmt.brl(money[1])} ({_change(money[0], money[1], 'pt')}).",
                f"Revenue: {fmt.brl(money[0])} × {fmt.brl(money[1])} ({_change(money[0], money[1], 'en')}).",
            )
        ]
        pace = items[0] / first.days
        recommendations = [
            self.t(
                f"Planeje o estoque para {_decimal(pace, 'pt')} itens por dia ({fmt.integer(items[0])} em "
                f"{first.days} dias)"
                + (" e investigue a queda." if items[0] < items[1] else " e mantenha o destaque do produto."),
                f"Plan stock for {_decimal(pace, 'en')} items a day ({fmt.integer(items[0])} in {first.days} "
                "days)"
                + (" and look into the drop." if items[0] < items[1] else " and keep featuring the product."),
            )
        ]
        chart = ChartSpec(
            "bar",
            [{"period": second.label(self.language), "items_sold": items[1]},
             {"period": first.label(self.language), "items_sold": items[0]}],
            "period",
            "items_sold",
            name,
            money=False,
        )  # fmt: skip
        return Answer(summary, insights, recommendations, chart)

    def best_category(self, period: Period, units: bool = False) -> Answer:
        measure = "items_sold" if units else "revenue"
        categories = self.tool(
            "category_sales", start_date=period.start, end_date=period.end, rank_by=measure
        )
        if not categories.rows:
            return self.no_sales(period)
        shown = self._measure(measure)
        best, worst = categories.rows[0], categories.rows[-1]
        total = sum(float(row[measure]) for row in categories.rows)
        share = float(best[measure]) / total if total else 0
        worst_share = float(worst[measure]) / total if total else 0
        of = self.t("dos itens" if units else "da receita", "of items" if units else "of revenue")
        name = best["category"]
        if units:
            summary = self.t(
                f"A categoria mais vendida {period.label('pt')} foi **{name}**, com "
                f"**{fmt.integer(best['items_sold'])} itens** ({fmt.percent(share)} dos itens) em "
                f"{fmt.integer(best['sales'])} vendas ({_money(best)}).",
                f"The category that sold most {period.label('en')} was **{name}**, with "
                f"**{fmt.integer(best['items_sold'])} items** ({fmt.percent(share)} of items) in "
                f"{fmt.integer(best['sales'])} sales ({_money(best)}).",
            )
        else:
            summary = self.t(
                f"A melhor categoria {period.label('pt')} foi **{name}**, com {_money(best)} "
                f"({fmt.percent(share)} da receita) em {fmt.integer(best['sales'])} vendas.",
                f"The best category {period.label('en')} was **{name}**, with {_money(best)} "
                f"({fmt.percent(share)} of revenue) in {fmt.integer(best['sales'])} sales.",
            )
        ranking = ", ".join(f"{row['category']} {shown(row)}" for row in categories.rows)
        insights = [
            f"Ranking: {ranking}.",
            self.t(
                f"{worst['category']} é a última ({shown(worst)}, {fmt.percent(worst_share)} {of}).",
                f"{worst['category']} comes last ({shown(worst)}, {fmt.percent(worst_share)} {of}).",
            ),
        ]
        recommendations = [
            self.t(
                f"Use os campeões de {name} ({fmt.percent(share)} {of}) como âncora de ofertas cruzadas.",
                f"Use the {name} best sellers ({fmt.percent(share)} {of}) as anchors for cross-sell offers.",
            ),
            self.t(
                f"Revise preço e exposição de {worst['category']} ({fmt.percent(worst_share)} {of}) antes de "
                "investir em mídia.",
                f"Review pricing and visibility of {worst['category']} ({fmt.percent(worst_share)} {of}) "
                "before spending on ads.",
            ),
        ]
        chart = self._ranking_chart(categories, "category", measure, self.t("Categorias", "Categories"))
        return Answer(summary, insights, recommendations, chart)

    def top_products(self, period: Period, count: int, units: bool = False) -> Answer:
        measure = "items_sold" if units else "revenue"
        products = self.tool(
            "top_products", start_date=period.start, end_date=period.end, limit=count, rank_by=measure
        )
        if not products.rows:
            return self.no_sales(period)
        total = self.tool("sales_summary", start_date=period.start, end_date=period.end).rows[0]
        shown = self._measure(measure)
        ranking = "; ".join(f"{i}. {r['product_name']} ({shown(r)})" for i, r in enumerate(products.rows, 1))
        summary = self.t(
            f"Produtos mais vendidos (em unidades) {period.label('pt')}: {ranking}."
            if units
            else f"Produtos com mais receita {period.label('pt')}: {ranking}.",
            f"Most sold products (units) {period.label('en')}: {ranking}."
            if units
            else f"Top products by revenue {period.label('en')}: {ranking}.",
        )
        leader = products.rows[0]
        share = float(leader[measure]) / float(total[measure]) if total[measure] else 0
        of = self.t("dos itens" if units else "da receita", "of items" if units else "of revenue")
        insights = [
            self.t(
                f"{leader['product_name']} sozinho fez {fmt.percent(share)} {of} do período "
                f"({fmt.integer(leader['items_sold'])} itens, {_money(leader)}).",
                f"{leader['product_name']} alone made {fmt.percent(share)} {of} of the period "
                f"({fmt.integer(leader['items_sold'])} items, {_money(leader)}).",
            )
        ]
        pace = float(leader["items_sold"]) / period.days
        recommendations = [
            self.t(
                f"Mantenha estoque de {leader['product_name']} para {_decimal(pace, 'pt')} itens por dia "
                f"({fmt.integer(leader['items_sold'])} itens no período) e use-o nas recomendações de "
                f"cross-sell de {leader['category']}.",
                f"Keep {leader['product_name']} in stock for {_decimal(pace, 'en')} items a day "
                f"({fmt.integer(leader['items_sold'])} items in the period) and use it in "
                f"{leader['category']} cross-sell recommendations.",
            )
        ]
        chart = self._ranking_chart(products, "product_name", measure, self.t("Produtos", "Products"))
        return Answer(summary, insights, recommendations, chart)

    def summary(self, period: Period) -> Answer:
        now = self.tool("sales_summary", start_date=period.start, end_date=period.end).rows[0]
        if not now["sales"]:
            return self.no_sales(period)
        daily = self.tool("daily_revenue", start_date=period.start, end_date=period.end)
        previous = period.previous()
        before = self.tool("sales_summary", start_date=previous.start, end_date=previous.end).rows[0]
        summary = self.t(
            f"Vendas {period.label('pt')}: receita de **{_money(now)}**, {fmt.integer(now['sales'])} vendas, "
            f"{fmt.integer(now['items_sold'])} itens, ticket médio de {fmt.brl(now['average_ticket'])}.",
            f"Sales {period.label('en')}: **{_money(now)}** revenue, {fmt.integer(now['sales'])} sales, "
            f"{fmt.integer(now['items_sold'])} items, average ticket {fmt.brl(now['average_ticket'])}.",
        )
        best = max(daily.rows, key=lambda row: row["revenue"])
        worst = min(daily.rows, key=lambda row: row["revenue"])
        change = _ratio(float(now["revenue"]), float(before["revenue"] or 0))
        insights = [
            _compared(previous, self.language)
            + _change(float(now["revenue"]), float(before["revenue"] or 0), self.language)
            + self.t(f" na receita (era {_money(before)}).", f" in revenue (was {_money(before)}).")
            if before["sales"]
            else self.t(
                f"Não há vendas {previous.label('pt')} para comparar.",
                f"There are no sales {previous.label('en')} to compare with.",
            )
        ]
        if len(daily.rows) > 1:
            insights.append(
                self.t(
                    f"Melhor dia: {fmt.day(best['sale_date'])} ({_money(best)}); pior: "
                    f"{fmt.day(worst['sale_date'])} ({_money(worst)}).",
                    f"Best day: {fmt.day(best['sale_date'])} ({_money(best)}); worst: "
                    f"{fmt.day(worst['sale_date'])} ({_money(worst)}).",
                )
            )
        if change is not None and change < 0:
            recommendation = self.t(
                f"A receita caiu {fmt.percent(-change)}: veja quais produtos e vendedores perderam força "
                "(pergunte pelo ranking do período) e reforce a campanha de cross-sell.",
                f"Revenue fell {fmt.percent(-change)}: find which products and sellers lost ground (ask "
                "for the period's ranking) and step up the cross-sell campaign.",
            )
        elif change is not None:
            recommendation = self.t(
                f"A receita subiu {fmt.percent(change)}: identifique o que puxou a alta (ranking de "
                "produtos e vendedores) e garanta estoque para sustentá-la.",
                f"Revenue rose {fmt.percent(change)}: find what drove it (product and seller rankings) and "
                "keep stock to sustain it.",
            )
        else:
            recommendation = self.t(
                f"Sem período anterior para comparar: use {_money(now)} como referência.",
                f"No previous period to compare with: use {_money(now)} as the baseline.",
            )
        return Answer(
            summary, insights, [recommendation], chart_for(daily, self.t("Receita diária", "Daily revenue"))
        )

    def no_sales(self, period: Period) -> Answer:
        return Answer(
            self.t(
                f"Não há vendas registradas {period.label('pt')}.",
                f"There are no sales recorded {period.label('en')}.",
            )
        )

    # -- customers and staff -------------------------------------------------------------------

    def new_customers(self, period: Period) -> Answer:
        days = self.tool("new_customers", start_date=period.start, end_date=period.end)
        previous = period.previous()
        earlier = self.tool("new_customers", start_date=previous.start, end_date=previous.end)
        if not days.rows:
            return self.no_sales(period)
        count = sum(int(row["new_customers"]) for row in days.rows)
        before = sum(int(row["new_customers"]) for row in earlier.rows)
        buyers = sum(int(row["customers"]) for row in days.rows)
        summary = self.t(
            f"Tivemos **{fmt.integer(count)} clientes novos** (primeira compra) {period.label('pt')}.",
            f"We had **{fmt.integer(count)} new customers** (first purchase) {period.label('en')}.",
        )
        best = max(days.rows, key=lambda row: row["new_customers"])
        share = count / buyers if buyers else 0
        insights = [
            _compared(previous, self.language)
            + _change(count, before, self.language)
            + self.t(f" (foram {fmt.integer(before)}).", f" (were {fmt.integer(before)})."),
            self.t(
                f"{fmt.percent(share)} dos clientes que compraram em cada dia eram novos "
                f"({fmt.integer(count)} de {fmt.integer(buyers)}, somando os dias); o melhor dia foi "
                f"{fmt.day(best['sale_date'])} ({fmt.integer(best['new_customers'])}).",
                f"{fmt.percent(share)} of each day's buying customers were new ({fmt.integer(count)} of "
                f"{fmt.integer(buyers)}, summed over the days); the best day was "
                f"{fmt.day(best['sale_date'])} ({fmt.integer(best['new_customers'])}).",
            ),
        ]
        recommendations = [
            self.t(
                f"Os {fmt.integer(count)} clientes novos entram na campanha de cross-sell nos 3 dias após a "
                "compra: acompanhe a conversão deles na página Campanhas.",
                f"The {fmt.integer(count)} new customers enter the cross-sell campaign in the 3 days after "
                "their purchase: follow their conversion on the Campanhas page.",
            ),
            self.t(
                f"Clientes novos foram {fmt.percent(share)} de quem comprou: "
                + (
                    "a base depende de quem já compra; invista em aquisição."
                    if share < 0.3
                    else "fidelize os novos com uma segunda oferta."
                ),
                f"New customers were {fmt.percent(share)} of buyers: "
                + (
                    "sales rest on returning customers; invest in acquisition."
                    if share < 0.3
                    else "retain the new ones with a second offer."
                ),
            ),
        ]
        chart = ChartSpec(
            "line",
            days.rows,
            "sale_date",
            "new_customers",
            self.t("Clientes novos por dia", "New customers a day"),
            money=False,
        )
        return Answer(summary, insights, recommendations, chart if len(days.rows) > 1 else None)

    def payroll(self) -> Answer:
        months = self.tool("monthly_payroll", limit=12).rows
        if not months:
            return self.no_staff()
        latest = months[0]
        month = fmt.month(latest["month_start"])
        payroll, employees = float(latest["payroll"]), int(latest["employees"])
        per_person = payroll / employees if employees else 0
        summary = self.t(
            f"A folha de pagamento de {month} é **{fmt.brl(payroll)}**, de {fmt.integer(employees)} "
            f"funcionários (média de {fmt.brl(per_person)} por pessoa).",
            f"The payroll of {month} is **{fmt.brl(payroll)}**, for {fmt.integer(employees)} employees "
            f"(an average of {fmt.brl(per_person)} per person).",
        )
        insights, recommendations = [], []
        if len(months) > 1:
            before = months[1]
            change = _ratio(payroll, float(before["payroll"]))
            moved = _change(payroll, float(before["payroll"]), self.language)
            people = employees - int(before["employees"])
            staff_moved = (
                self.t("o mesmo quadro", "the same head count")
                if people == 0
                else self.t(
                    f"{abs(people)} pessoa(s) a {'mais' if people > 0 else 'menos'}",
                    f"{abs(people)} {'more' if people > 0 else 'fewer'} people",
                )
            )
            insights.append(
                self.t(
                    f"Em relação a {fmt.month(before['month_start'])} ({fmt.brl(before['payroll'])}, "
                    f"{fmt.integer(before['employees'])} pessoas): {moved}.",
                    f"Compared with {fmt.month(before['month_start'])} ({fmt.brl(before['payroll'])}, "
                    f"{fmt.integer(before['employees'])} people): {moved}.",
                )
            )
            oldest = months[-1]
            insights.append(
                self.t(
                    f"Em {len(months)} meses (desde {fmt.month(oldest['month_start'])}) a folha foi de "
                    f"{fmt.brl(oldest['payroll'])} para {fmt.brl(payroll)}.",
                    f"Over {len(months)} months (since {fmt.month(oldest['month_start'])}) payroll went from "
                    f"{fmt.brl(oldest['payroll'])} to {fmt.brl(payroll)}.",
                )
            )
            if change is not None:
                recommendations.append(
                    self.t(
                        f"A folha teve {moved} no mês, com {staff_moved}: compare com a variação da "
                        "receita do mesmo mês antes de novas contratações.",
                        f"Payroll was {moved} in the month, with {staff_moved}: weigh it against the "
                        "month's revenue change before hiring more.",
                    )
                )
        recommendations.append(
            self.t(
                f"Com {fmt.brl(per_person)} por pessoa, confira o salário médio por cargo "
                "(pergunte “salário médio por cargo”) para achar as faixas que mais pesam.",
                f"At {fmt.brl(per_person)} per person, check the average salary by job title (ask “average "
                "salary by job title”) to find the bands that weigh most.",
            )
        )
        rows = list(reversed(months))
        chart = (
            ChartSpec("line", rows, "month_start", "payroll", self.t("Folha mensal", "Monthly payroll"))
            if len(rows) > 1
            else None
        )
        return Answer(summary, insights, recommendations, chart)

    def headcount(self) -> Answer:
        genders = self.tool("headcount_by_gender").rows
        if not genders:
            return self.no_staff()
        hires = self.tool("hires_per_month", limit=12).rows
        total = sum(int(row["employees"]) for row in genders)
        split = ", ".join(
            f"{row['gender']} {fmt.integer(row['employees'])} ({fmt.percent(row['employee_share'])})"
            for row in genders
        )
        summary = self.t(
            f"Temos **{fmt.integer(total)} funcionários** ativos: {split}.",
            f"We have **{fmt.integer(total)} employees** on staff: {split}.",
        )
        insights, recommendations = [], []
        if hires:
            latest = hires[0]
            year = sum(int(row["hires"]) for row in hires)
            insights.append(
                self.t(
                    f"Contratações: {fmt.integer(latest['hires'])} em {fmt.month(latest['month_start'])}; "
                    f"{fmt.integer(year)} nos {len(hires)} meses com contratação mais recentes.",
                    f"Hires: {fmt.integer(latest['hires'])} in {fmt.month(latest['month_start'])}; "
                    f"{fmt.integer(year)} over the latest {len(hires)} months with hires.",
                )
            )
        largest = genders[0]
        share = fmt.percent(largest["employee_share"])
        insights.append(
            self.t(
                f"O maior grupo é {largest['gender']}, com {share} do quadro.",
                f"The largest group is {largest['gender']}, with {share} of staff.",
            )
        )
        recommendations.append(
            self.t(
                f"Com {fmt.percent(largest['employee_share'])} do quadro em um só grupo, "
                + ("amplie a diversidade nas próximas contratações." if float(largest["employee_share"]) > 0.6
                   else "o quadro está equilibrado; mantenha o critério nas próximas contratações."),
                f"With {fmt.percent(largest['employee_share'])} of staff in one group, "
                + ("widen diversity in the next hires." if float(largest["employee_share"]) > 0.6
                   else "staff is balanced; keep the criteria in the next hires."),
            )
        )  # fmt: skip
        if hires:
            recommendations.append(
                self.t(
                    f"Compare as {fmt.integer(hires[0]['hires'])} contratações de "
                    f"{fmt.month(hires[0]['month_start'])} com a evolução da receita antes de abrir vagas.",
                    f"Weigh the {fmt.integer(hires[0]['hires'])} hires of "
                    f"{fmt.month(hires[0]['month_start'])} against revenue growth before opening positions.",
                )
            )
        chart = ChartSpec(
            "bar",
            genders,
            "gender",
            "employees",
            self.t("Funcionários por gênero", "Staff by gender"),
            money=False,
        )
        return Answer(summary, insights, recommendations, chart if len(genders) > 1 else None)

    def salary_by_title(self) -> Answer:
        titles = self.tool("average_salary_by_title").rows
        if not titles:
            return self.no_staff()
        top, bottom = titles[0], titles[-1]
        listing = "; ".join(
            f"{row['job_title']} {fmt.brl(row['average_salary'])} ({fmt.integer(row['employees'])})"
            for row in titles[:5]
        )
        summary = self.t(
            f"Salário médio por cargo (maiores primeiro, com o número de pessoas): {listing}.",
            f"Average salary by job title (highest first, with head count): {listing}.",
        )
        spread = (
            float(top["average_salary"]) / float(bottom["average_salary"]) if bottom["average_salary"] else 0
        )
        insights = [
            self.t(
                f"{top['job_title']} ganha em média {_decimal(spread, 'pt')} vezes o que ganha "
                f"{bottom['job_title']} ({fmt.brl(bottom['average_salary'])}).",
                f"{top['job_title']} earns on average {_decimal(spread, 'en')} times what "
                f"{bottom['job_title']} earns ({fmt.brl(bottom['average_salary'])}).",
            )
        ]
        heaviest = max(titles, key=lambda row: float(row["average_salary"]) * int(row["employees"]))
        weight = float(heaviest["average_salary"]) * int(heaviest["employees"])
        insights.append(
            self.t(
                f"{heaviest['job_title']} é o cargo que mais pesa na folha: {fmt.brl(weight)} por mês, "
                f"{fmt.integer(heaviest['employees'])} pessoas.",
                f"{heaviest['job_title']} weighs most on payroll: {fmt.brl(weight)} a month, "
                f"{fmt.integer(heaviest['employees'])} people.",
            )
        )
        recommendations = [
            self.t(
                f"Revise primeiro a faixa de {heaviest['job_title']} ({fmt.brl(weight)} por mês): é onde um "
                "ajuste mais move a folha.",
                f"Review the {heaviest['job_title']} band first ({fmt.brl(weight)} a month): an adjustment "
                "there moves payroll most.",
            )
        ]
        chart = ChartSpec(
            "bar",
            titles,
            "job_title",
            "average_salary",
            self.t("Salário médio por cargo", "Average salary by title"),
        )
        return Answer(summary, insights, recommendations, chart if len(titles) > 1 else None)

    def no_staff(self) -> Answer:
        return Answer(
            self.t(
                "O gold ainda não tem funcionários: rode o pipeline (`make demo`) e pergunte de novo.",
                "Gold has no staff yet: run the pipeline (`make demo`) and ask again.",
            )
        )

    # -- helpers -------------------------------------------------------------------------------

    def _measure(self, measure: str):
        """How a ranked row's measure reads: R$ for revenue, `N itens` for units."""
        if measure == "items_sold":
            return lambda row: f"{fmt.integer(row['items_sold'])} {self.t('itens', 'items')}"
        return _money

    def _ranking_chart(self, result: ToolResult, label: str, measure: str, title: str) -> ChartSpec | None:
        if len(result.rows) < 2:
            return None
        return ChartSpec("bar", result.rows, label, measure, title, money=measure == "revenue")


def answer_by_rules(dsn: str, question: str) -> Answer:
    return RuleAssistant(dsn).answer(question)

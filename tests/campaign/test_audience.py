"""The audience rules on hand-built silver data, one rule per test: the dbt model
gold.cross_sell_audience built by dbt on the shop, copied into the campaign's recipients by the
plan, and the plan's skip reasons (include/sql/campaign_skip_reasons.sql)."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from liftoff.campaign.audience import build_audience, segments
from liftoff.campaign.config import AudienceRules, campaign_id_for
from liftoff.campaign.runner import plan_campaign
from tests.campaign.shop import Shop, build_campaign_gold, days_before

DAY = date(2026, 6, 10)
CAMPAIGN = campaign_id_for(DAY)


@pytest.fixture
def shop(warehouse) -> Shop:
    """Two categories with a clear ranking built by old purchases of 'fan' customers (id >= 900)."""
    shop = Shop(warehouse)
    shop.product(1, "Eletrônicos", "50.00")  # 5 sales, more revenue than 2
    shop.product(2, "Eletrônicos", "40.00")  # 5 sales
    shop.product(3, "Eletrônicos", "10.00")  # 3 sales
    shop.product(4, "Eletrônicos", "9999.00")  # the most expensive: 1 sale (the original's pick)
    shop.product(11, "Livros", "30.00")  # 4 sales
    shop.product(12, "Livros", "20.00")  # 2 sales
    old = days_before(DAY, 20)
    shop.fans(1, 5, old, 900)
    shop.fans(2, 5, old, 910)
    shop.fans(3, 3, old, 920)
    shop.fans(4, 1, old, 930)
    shop.fans(11, 4, old, 940)
    shop.fans(12, 2, old, 950)
    return shop


def audience(dsn: str, rules: AudienceRules | None = None, day: date = DAY) -> dict[int, dict]:
    """Build gold for `day` with dbt, plan the campaign; its recipients by customer."""
    campaign = campaign_id_for(day)
    build_campaign_gold(dsn, day)
    plan_campaign(dsn, day, rules)
    with psycopg.connect(dsn) as conn:
        cursor = conn.execute(
            "select * from campaign.recipients where campaign_id = %s order by customer_id", (campaign,)
        )
        names = [c.name for c in cursor.description]
        return {row[1]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def test_recent_buyer_gets_the_best_seller_by_number_of_sales_not_price(shop, warehouse):
    shop.customer(1)
    shop.sale(1, 3, days_before(DAY, 1))
    row = audience(warehouse)[1]
    assert row["recommended_product_id"] == 1  # 5 sales; product 4 is dearer but sold once
    assert row["last_product_name"] == "Produto 3"
    assert row["last_category"] == "Eletrônicos"
    assert row["recommended_price"] == shop.prices[1]
    assert row["segment_key"] == "1:Eletrônicos"
    assert row["customer_email"] == "cliente1@example.com"


def test_the_recent_window_is_the_three_days_ending_on_the_logical_date(shop, warehouse):
    for customer, days_ago in ((1, 0), (2, 2), (3, 3)):
        shop.customer(customer)
        shop.sale(customer, 3, days_before(DAY, days_ago))
    shop.customer(4)  # bought after the logical date: not yet a customer of this campaign
    shop.sale(4, 3, days_before(DAY, -1))
    assert set(audience(warehouse)) == {1, 2}


def test_only_the_latest_purchase_counts_when_there_are_several_recent_ones(shop, warehouse):
    shop.customer(1)
    shop.sale(1, 3, days_before(DAY, 2))
    shop.sale(1, 12, days_before(DAY, 1))  # the latest: a book
    shop.sale(1, 2, days_before(DAY, 1), hour=9)  # same day, earlier
    result = audience(warehouse)
    assert len(result) == 1
    assert result[1]["last_category"] == "Livros"
    assert result[1]["recommended_product_id"] == 11


def test_a_customer_whose_latest_purchase_is_old_is_out_even_with_a_recent_earlier_one(shop, warehouse):
    # The original treated every purchase of the window as "the last one".
    shop.customer(1)
    shop.sale(1, 3, days_before(DAY, 1), hour=10)
    shop.sale(1, 12, days_before(DAY, 0), hour=20)
    shop.customer(2)
    shop.sale(2, 3, days_before(DAY, 1))
    shop.sale(2, 11, days_before(DAY, -2))  # after the logical date: ignored
    result = audience(warehouse)
    assert result[1]["last_category"] == "Livros"
    assert result[2]["last_category"] == "Eletrônicos"


def test_never_recommends_a_product_the_customer_ever_bought(shop, warehouse):
    shop.customer(1)
    shop.sale(1, 1, days_before(DAY, 60))  # bought the best seller two months ago
    shop.sale(1, 3, days_before(DAY, 1))
    assert audience(warehouse)[1]["recommended_product_id"] == 2
    shop.customer(2)
    shop.sale(2, 1, days_before(DAY, 400))
    shop.sale(2, 2, days_before(DAY, 300))
    shop.sale(2, 3, days_before(DAY, 1))
    assert audience(warehouse)[2]["recommended_product_id"] == 4  # the only one left
    shop.customer(3)  # bought every book: no recommendation, not in the audience
    shop.sale(3, 11, days_before(DAY, 5))
    shop.sale(3, 12, days_before(DAY, 1))
    assert 3 not in audience(warehouse)


def test_ties_break_on_revenue_then_the_lower_product_id(shop, warehouse):
    shop.product(5, "Brinquedos", "10.00")
    shop.product(6, "Brinquedos", "10.00")
    shop.product(7, "Brinquedos", "10.00")
    shop.product(8, "Brinquedos", "10.00")
    for product in (7, 6):  # 7 and 6: two sales each, same revenue
        shop.fans(product, 2, days_before(DAY, 30), 700 + product * 10)
    shop.sale(700 + 50, 5, days_before(DAY, 30), value="15.00")  # 5: one sale but the dearest
    shop.customer(1)
    shop.sale(1, 8, days_before(DAY, 1))
    assert audience(warehouse)[1]["recommended_product_id"] == 6
    shop.sale(700 + 51, 7, days_before(DAY, 31), value="10.00")  # 7: three sales now
    assert audience(warehouse)[1]["recommended_product_id"] == 7


def test_best_sellers_count_the_three_calendar_months_ending_with_the_logical_date(shop, warehouse):
    shop.product(5, "Brinquedos")
    shop.product(6, "Brinquedos")
    shop.product(7, "Brinquedos")
    shop.product(8, "Brinquedos")
    shop.fans(5, 9, days_before(DAY, 100), 600)  # more than 3 months ago
    shop.fans(6, 2, days_before(DAY, 80), 620)
    shop.customer(1)
    shop.sale(1, 7, DAY)
    shop.fans(8, 3, DAY, 640)  # the logical date itself is in the ranking window (it was not)
    assert audience(warehouse)[1]["recommended_product_id"] == 8


def test_opted_out_customers_and_channels_are_excluded(shop, warehouse):
    for customer in (1, 2, 3, 4):
        shop.customer(customer, chat_id=5000 + customer if customer in (3, 4) else None)
        shop.sale(customer, 3, days_before(DAY, 1))
    with psycopg.connect(warehouse) as conn:
        conn.cursor().executemany(
            "insert into campaign.opt_outs (customer_id, channel, reason, source)"
            " values (%s, %s, 'x', 'test')",
            [(1, "all"), (2, "email"), (3, "email"), (4, "telegram")],
        )
    result = audience(warehouse)
    assert set(result) == {3, 4}  # 1: out of everything; 2: out of its only channel
    assert result[3]["customer_email"] is None
    assert result[3]["telegram_chat_id"] == 5003
    assert result[4]["customer_email"] == "cliente4@example.com"
    assert result[4]["telegram_chat_id"] is None


def test_the_contact_cap_counts_messages_by_send_time_whatever_day_they_were_for(shop, warehouse):
    for customer in (1, 2, 3, 4, 5):
        shop.customer(customer)
        shop.sale(customer, 3, days_before(DAY, 1))
    newer = campaign_id_for(days_before(DAY, -1))
    earlier = [
        (campaign_id_for(days_before(DAY, 3)), days_before(DAY, 3), 1, "sent", "3 days"),  # capped
        (campaign_id_for(days_before(DAY, 10)), days_before(DAY, 10), 2, "sent", "10 days"),  # free
        (campaign_id_for(days_before(DAY, 2)), days_before(DAY, 2), 3, "failed", "1 day"),  # never reached
        (CAMPAIGN, DAY, 4, "sent", "1 hour"),  # this very campaign (a re-run): the send log dedupes
        # The campaign of a NEWER day sent a minute ago: a hand-run of this older day must not
        # message the customer again (the cap once looked at the campaigns' data days instead).
        (newer, days_before(DAY, -1), 5, "sent", "1 minute"),
    ]
    with psycopg.connect(warehouse) as conn:
        for campaign, day, customer, status, ago in earlier:
            conn.execute(
                "insert into campaign.campaigns (campaign_id, logical_date) values (%s, %s)"
                " on conflict do nothing",
                (campaign, day),
            )
            conn.execute(
                "insert into campaign.send_log (campaign_id, customer_id, channel, logical_date, status,"
                " sent_at) values (%s, %s, 'email', %s, %s,"
                " case when %s = 'sent' then now() - %s::interval end)",
                (campaign, customer, day, status, status, ago),
            )
    assert set(audience(warehouse)) == {1, 2, 3, 4, 5}  # the cap skips, with its reason
    reasons = skip_reasons_of(warehouse)
    assert {c for (c, _), r in reasons.items() if r == "contact cap"} == {1, 5}
    assert reasons[(2, "email")] is None
    assert reasons[(3, "email")] is None
    audience(warehouse, AudienceRules(contact_cooldown_days=2))
    assert {c for (c, _), r in skip_reasons_of(warehouse).items() if r == "contact cap"} == {5}


def test_a_customer_who_bought_the_recommendation_after_the_day_is_skipped(shop, warehouse):
    for customer in (1, 2):
        shop.customer(customer)
        shop.sale(customer, 3, days_before(DAY, 1))
    shop.sale(1, 1, days_before(DAY, -1))  # bought the best seller the day after D
    result = audience(warehouse)
    assert result[1]["recommended_product_id"] == result[2]["recommended_product_id"] == 1
    reasons = skip_reasons_of(warehouse)
    assert reasons[(1, "email")] == "already bought"
    assert reasons[(2, "email")] is None


def test_a_rerun_replaces_the_snapshot_and_segments_group_product_by_category(shop, warehouse):
    for customer in (1, 2, 3):
        shop.customer(customer)
    shop.sale(1, 3, days_before(DAY, 1))
    shop.sale(2, 3, days_before(DAY, 2))
    shop.sale(3, 12, days_before(DAY, 1))
    first = audience(warehouse, AudienceRules(batch_size=2))
    second = audience(warehouse, AudienceRules(batch_size=2))
    assert first == second
    assert [row["batch_number"] for row in second.values()] == [0, 0, 1]
    found = {(s.segment_key, s.customers) for s in segments(warehouse, CAMPAIGN)}
    assert found == {("1:Eletrônicos", 2), ("11:Livros", 1)}


def test_a_campaign_id_cannot_change_its_logical_date(shop, warehouse):
    build_campaign_gold(warehouse, DAY)
    build_audience(warehouse, CAMPAIGN, DAY)
    with pytest.raises(ValueError, match="belongs to logical date 2026-06-10"):
        build_audience(warehouse, CAMPAIGN, days_before(DAY, 1))


def test_rules_reject_nonsense():
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        AudienceRules(batch_size=0)
    with pytest.raises(ValueError, match="contact_cooldown_days must be >= 0"):
        AudienceRules(contact_cooldown_days=-1)


def skip_reasons_of(dsn: str, campaign: str = CAMPAIGN) -> dict[tuple[int, str], str | None]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "select customer_id, channel, skip_reason from campaign.send_log where campaign_id = %s",
            (campaign,),
        ).fetchall()
    return {(customer, channel): reason for customer, channel, reason in rows}


def test_the_gate_certifies_the_audience_and_names_the_customers_it_rejects(shop, warehouse):
    from liftoff.quality.audience import audience_findings

    for customer in (1, 2):
        shop.customer(customer)
        shop.sale(customer, 3, days_before(DAY, 1))
    build_campaign_gold(warehouse, DAY)
    assert all(finding.success for finding in audience_findings(warehouse, DAY))
    with psycopg.connect(warehouse) as conn:  # a wrong row: 2 is recommended what it just bought
        conn.execute(
            "update gold.cross_sell_audience set recommended_product_id = 3"
            " where customer_id = 2 and audience_date = %s",
            (DAY,),
        )
    failed = {f.expectation: f.failing_samples for f in audience_findings(warehouse, DAY) if not f.success}
    assert failed == {"recommended product never bought up to D": [2]}

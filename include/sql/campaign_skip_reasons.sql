-- Why a recipient of a campaign must not get its message on a channel now: one reason per
-- customer and channel, the first that applies in this order:
-- 1. stale day: the campaign's data day is too old to send about (unless forced);
-- 2. no channel: the channel is off for this run (not selected, or no connection to send with);
-- 3. opted out: any opt-out for the channel or 'all', whichever door it came in by;
-- 4. already bought: the customer bought the recommended product after the data day;
-- 5. contact cap: another campaign's message reached the customer, on any channel, within the
--    campaign's contact_cap_days before now, by send time (whatever day that campaign was for).
-- Run by the plan for every recipient and again by each send batch for its pending rows.
-- customer_ids null: every recipient of the campaign.

with

campaign as (

    select
        campaign_id,
        logical_date,
        contact_cap_days
    from campaign.campaigns
    where campaign_id = %(campaign_id)s::text

),

targets as (

    select
        recipients.customer_id,
        channels.channel,
        recipients.recommended_product_id
    from campaign.recipients as recipients
    cross join (values ('email'), ('telegram')) as channels (channel)
    where
        recipients.campaign_id = %(campaign_id)s::text
        and (
            %(customer_ids)s::bigint[] is null
            or recipients.customer_id = any(%(customer_ids)s::bigint[])
        )
        and channels.channel = any(%(channels)s::text[])
        and (
            (channels.channel = 'email' and recipients.customer_email is not null)
            or (channels.channel = 'telegram' and recipients.telegram_chat_id is not null)
        )

),

reasons as (

    select
        customer_id,
        channel,
        1 as priority,
        'stale day' as reason
    from targets
    where %(stale_day)s::boolean

    union all

    select
        customer_id,
        channel,
        2 as priority,
        'no channel' as reason
    from targets
    where not (channel = any(%(active_channels)s::text[]))

    union all

    select
        targets.customer_id,
        targets.channel,
        3 as priority,
        'opted out' as reason
    from targets
    where
        exists (
            select
            from campaign.consent_exclusions as consent
            where
                consent.customer_id = targets.customer_id
                and consent.channel in (targets.channel, 'all')
        )

    union all

    select
        targets.customer_id,
        targets.channel,
        4 as priority,
        'already bought' as reason
    from targets
    cross join campaign
    where
        exists (
            select
            from silver.sales as sales
            where
                sales.customer_id = targets.customer_id
                and sales.product_id = targets.recommended_product_id
                and sales.sale_date > campaign.logical_date
        )

    union all

    select
        targets.customer_id,
        targets.channel,
        5 as priority,
        'contact cap' as reason
    from targets
    cross join campaign
    where exists (
        select
        from campaign.send_log as contacted
        where
            contacted.customer_id = targets.customer_id
            and contacted.status = 'sent'
            and contacted.campaign_id <> campaign.campaign_id
            and contacted.sent_at > now() - make_interval(days => campaign.contact_cap_days)
    )

)

select distinct on (customer_id, channel)
    customer_id,
    channel,
    reason
from reasons
order by customer_id asc, channel asc, priority asc

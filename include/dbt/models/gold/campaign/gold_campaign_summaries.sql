-- Per campaign and channel: who was in the audience and what became of each of them, from the
-- campaign's own state (recipients and the send log). Rebuilt whole by the campaign DAG's
-- summarise step (and by every transform), so it is true after reruns and opt-outs by
-- construction: the audience of a channel is every customer the campaign planned for it or holds
-- a send-log row for, and each of them is exactly one of sent, recorded (would have gone out on a
-- channel with no way to send, e.g. Telegram without a bot: kept, not delivered), skipped (with
-- its reason), failed or pending (audience_size = sent + recorded + skipped + failed + pending;
-- skipped = the sum of its reasons).
-- Dry runs are left out (they send nothing and record nothing).

with

campaigns as (

    select * from {{ source('campaign', 'campaigns') }}
    where status <> 'dry run'

),

channels as (

    select channel from (values ('email'), ('telegram')) as known (channel)

),

reach as (

    select
        campaign_id,
        customer_id,
        'email' as channel
    from {{ source('campaign', 'recipients') }}
    where customer_email is not null
    union
    select
        campaign_id,
        customer_id,
        'telegram' as channel
    from {{ source('campaign', 'recipients') }}
    where telegram_chat_id is not null
    union
    select
        campaign_id,
        customer_id,
        channel
    from {{ source('campaign', 'send_log') }}

),

outcomes as (

    select
        reach.campaign_id,
        reach.channel,
        count(*) as audience_size,
        count(case when send_log.status = 'sent' then 1 end) as sent,
        count(case when send_log.status = 'recorded' then 1 end) as recorded,
        count(case when send_log.status = 'skipped' then 1 end) as skipped,
        count(case when send_log.skip_reason = 'opted out' then 1 end) as skipped_opted_out,
        count(case when send_log.skip_reason = 'contact cap' then 1 end) as skipped_contact_cap,
        count(case when send_log.skip_reason = 'already bought' then 1 end) as skipped_already_bought,
        count(case when send_log.skip_reason = 'no channel' then 1 end) as skipped_no_channel,
        count(case when send_log.skip_reason = 'stale day' then 1 end) as skipped_stale_day,
        count(case when send_log.skip_reason = 'not in audience' then 1 end) as skipped_not_in_audience,
        count(case when send_log.status = 'failed' then 1 end) as failed,
        count(case when send_log.status is null or send_log.status in ('pending', 'sending') then 1 end)
            as pending
    from reach
    left join {{ source('campaign', 'send_log') }} as send_log
        on
            reach.campaign_id = send_log.campaign_id
            and reach.customer_id = send_log.customer_id
            and reach.channel = send_log.channel
    group by reach.campaign_id, reach.channel

),

final as (

    select
        campaigns.campaign_id::text as campaign_id,
        campaigns.logical_date,
        channels.channel::text as channel,
        campaigns.status::text as campaign_status,
        coalesce(outcomes.audience_size, 0)::integer as audience_size,
        coalesce(outcomes.sent, 0)::integer as sent,
        coalesce(outcomes.recorded, 0)::integer as recorded,
        coalesce(outcomes.skipped, 0)::integer as skipped,
        coalesce(outcomes.skipped_opted_out, 0)::integer as skipped_opted_out,
        coalesce(outcomes.skipped_contact_cap, 0)::integer as skipped_contact_cap,
        coalesce(outcomes.skipped_already_bought, 0)::integer as skipped_already_bought,
        coalesce(outcomes.skipped_no_channel, 0)::integer as skipped_no_channel,
        coalesce(outcomes.skipped_stale_day, 0)::integer as skipped_stale_day,
        coalesce(outcomes.skipped_not_in_audience, 0)::integer as skipped_not_in_audience,
        coalesce(outcomes.failed, 0)::integer as failed,
        coalesce(outcomes.pending, 0)::integer as pending,
        campaigns.finished_at
    from campaigns
    cross join channels
    left join outcomes
        on
            campaigns.campaign_id = outcomes.campaign_id
            and channels.channel = outcomes.channel

)

select * from final

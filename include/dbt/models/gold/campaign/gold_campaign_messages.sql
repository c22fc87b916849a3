{{ config(materialized='view', post_hook=[]) }}

-- One row per campaign, customer and channel of the send log, for the dashboard's Campanhas page:
-- what became of each message (status, skip_reason), when it was sent and its Message-ID, by
-- which the page finds the message itself in the local outbox to preview it; and, for a message
-- recorded instead of sent (Telegram without a bot), its text as it would have gone out
-- (recorded_text, null for every other status).
--
-- A view, so the page sees sends as they happen. It runs with its owner's (dbt's) rights: the
-- dashboard role reads these columns and nothing else of the campaign schema. No address, name
-- column or chat id (the preview reads the message as sent, from the outbox), and not the send log's
-- free-text `detail` either: an SMTP refusal often quotes the recipient's address. The recorded
-- text is the rendered message as it would have gone out (greeting with the first name, copy,
-- product link, unsubscribe link): no address or chat id is in it.

with

send_log as (

    select * from {{ source('campaign', 'send_log') }}

),

recipients as (

    select * from {{ source('campaign', 'recipients') }}

),

final as (

    select
        send_log.campaign_id::text as campaign_id,
        send_log.logical_date,
        send_log.customer_id::bigint as customer_id,
        send_log.channel::text as channel,
        recipients.segment_key::text as segment_key,
        send_log.status::text as status,
        send_log.skip_reason::text as skip_reason,
        send_log.message_id::text as message_id,
        send_log.attempts::integer as attempts,
        send_log.sent_at,
        send_log.updated_at,
        case
            when send_log.status = 'recorded' then send_log.body::text
        end as recorded_text
    from send_log
    left join recipients
        on
            send_log.campaign_id = recipients.campaign_id
            and send_log.customer_id = recipients.customer_id

)

select * from final

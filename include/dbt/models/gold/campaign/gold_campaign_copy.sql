{{ config(materialized='view', post_hook=[]) }}

-- The copy of each segment of each campaign, for the dashboard's Campanhas page: the subject,
-- e-mail and Telegram texts, which copywriter wrote them (copy_source: llm, llm-cache, template)
-- and why the template stood in (fallback_reason), with what the segment is (category of the
-- last purchase × recommended product) and how many recipients it has.
--
-- A view, not a table: live while a campaign is being written and sent, and no build step to
-- forget. It runs with its owner's (dbt's) rights, so the dashboard role reads exactly these
-- columns and never the campaign schema itself: no name, e-mail or chat id of any recipient.

with

segment_copy as (

    select * from {{ source('campaign', 'segment_copy') }}

),

recipients as (

    select * from {{ source('campaign', 'recipients') }}

),

segments as (

    select
        campaign_id,
        segment_key,
        min(last_category) as last_category,
        min(recommended_product_id) as recommended_product_id,
        min(recommended_product_name) as recommended_product_name,
        count(*) as recipients
    from recipients
    group by campaign_id, segment_key

),

final as (

    select
        segment_copy.campaign_id::text as campaign_id,
        segment_copy.segment_key::text as segment_key,
        segments.last_category::text as last_category,
        segments.recommended_product_id::bigint as recommended_product_id,
        segments.recommended_product_name::text as recommended_product_name,
        coalesce(segments.recipients, 0)::integer as recipients,
        segment_copy.subject::text as subject,
        segment_copy.email_copy::text as email_copy,
        segment_copy.telegram_text::text as telegram_text,
        segment_copy.copy_source::text as copy_source,
        segment_copy.fallback_reason::text as fallback_reason
    from segment_copy
    left join segments
        on
            segment_copy.campaign_id = segments.campaign_id
            and segment_copy.segment_key = segments.segment_key

)

select * from final

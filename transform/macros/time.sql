{% macro local_day(instant, timezone) -%}
    {#- The day an instant falls on in `timezone`, rounded to the nearest local midnight (as the
        loader dates Stripe buckets: labels at local or at UTC midnight give the same day). -#}
    cast(({{ instant }} at time zone {{ timezone }}) + interval '12 hours' as date)
{%- endmacro %}

{% macro period_start(day, grain) -%}
    {#- The first day of the period of `grain` (day, week from Monday, month, year) holding `day`. -#}
    cast(case {{ grain }}
        when 'week' then date_trunc('week', {{ day }})
        when 'month' then date_trunc('month', {{ day }})
        when 'year' then date_trunc('year', {{ day }})
        else {{ day }}
    end as date)
{%- endmacro %}

{% macro period_end(start, grain) -%}
    {#- The last day of the period of `grain` starting on `start` (inclusive). -#}
    cast(cast({{ start }} as date) + case {{ grain }}
        when 'week' then interval '7 days'
        when 'month' then interval '1 month'
        when 'year' then interval '1 year'
        else interval '1 day'
    end - interval '1 day' as date)
{%- endmacro %}

{% macro local_midnight(day, timezone) -%}
    {#- The instant `day` starts in `timezone` (e.g. 2026-01-01 in Asia/Tokyo = 2025-12-31 15:00 UTC). -#}
    (cast({{ day }} as timestamp) at time zone {{ timezone }})
{%- endmacro %}

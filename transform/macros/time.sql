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

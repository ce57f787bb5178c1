{#- Saved query `mrr_by_account_currency_monthly` as a table (export): monthly MRR per account,
    query (series) and currency, with `as_of` and `is_complete`. The same month-end level rule as the
    semantic layer's `mrr` by month (`test_semantic` checks they agree, the running month included),
    read from the mart that applies it. -#}
select
    month,
    account,
    series,
    currency,
    mrr,
    as_of,
    is_complete
from {{ ref('fct_mrr_monthly') }}

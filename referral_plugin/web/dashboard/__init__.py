"""The merchant dashboard: server-rendered pages under `/admin` (issue 7).

- `access`: who the merchant of a request is (Shopify session token or a cookie session).
- `sign_in`: the emailed single-use sign-in link, and sign-out.
- `pages`: overview, referrals, rewards with their liability.
- `advocates`: advocates, one advocate's referrals, rewards and ledger, manual adjustments.
- `review`: the review queue (approve / reject flagged referrals, one or many).
- `analytics`: the analytics page (`analytics_controls` reads the period and program asked
  for, `analytics_figures` writes the numbers, `web.analytics_charts` draws the charts).
- `contests`: contests' standings, the winner draw and its check.
- `experiments`: A/B tests and each one's results per group; `experiment_setup` starts,
  changes and ends a test (`experiment_form`: form ↔ the program's `experiment` JSON).
- `integrations`: the merchant's webhooks and CSV downloads.
- `segments`: the Grow page (customers of a segment, invited as advocates in one action).
- `programs`: the programs (pause, resume), the guided setup and editing with a live preview;
  `program_form` (form → program JSON), `program_values` (defaults, program → form, the
  codec's errors at the inputs), `program_preview` (the shopper pages for a draft).
- `render`: page rendering, words and money for the templates, paging.

Templates are in `templates/dashboard/`, the stylesheet and scripts in `static/dashboard/`
(`program_setup.js`: the setup form's steps, shown inputs and live preview; the A/B test
form's shown reward inputs).
"""

"""The read-only dashboard and sales assistant: plain, typed Python the Streamlit pages call.

`role` makes the Postgres role the app connects as; `warehouse` reads gold through it; `queries`
holds the dashboard's questions; `formatting` the Brazilian display of numbers; `tools`,
`intents` and `assistant` the AI sales assistant. Nothing here imports Streamlit except `cached`.
"""

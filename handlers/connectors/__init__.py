"""Survey-tool connectors: each tool's own webhook payloads and CSV exports, mapped to responses.

`POST /webhooks/<tool>` for Delighted, Typeform, SurveyMonkey, Qualtrics and Google Forms
(`handlers.connectors.routes`); the CSV presets of `npsbot import --format` live in
`handlers.connectors.csv_presets`. The package itself loads nothing, so that `npsbot import`
starts without the web server's modules.
"""

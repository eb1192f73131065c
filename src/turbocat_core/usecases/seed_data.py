"""What `turbocat seed` puts in a fresh installation: agents, workflows and official templates.

Plain data in the shapes of docs/agents.md and docs/workflow-files.md.
"""

from __future__ import annotations

from typing import Any, Final

ADMIN_EMAIL: Final = "admin@turbocat.dev"
DEMO_EMAIL: Final = "demo@turbocat.dev"

# name -> (type, description, config, tags); owned by the demo user
AGENTS: Final[dict[str, tuple[str, str, dict[str, Any], list[str]]]] = {
    "Web Scraper": (
        "API",
        "Fetches a web page and returns its status, headers and body.",
        {
            "method": "GET",
            "url": "{{inputs.url}}",
            "headers": {"User-Agent": "Turbocat/0.1 (+https://turbocat.dev)"},
            "timeoutMs": 10000,
            "retry": {"count": 2, "delayMs": 500, "statusCodes": [429, 502, 503, 504]},
        },
        ["web", "scraping"],
    ),
    "Data Transformer": (
        "DATA",
        "Keeps the active records, newest first, with just the fields a report needs.",
        {
            "pipeline": [
                {"operation": "filter", "field": "active", "operator": "eq", "value": True},
                {"operation": "sort", "by": [{"field": "updatedAt", "direction": "desc"}]},
                {"operation": "pick", "fields": ["id", "name", "email", "updatedAt"]},
            ]
        },
        ["data", "etl"],
    ),
    "API Caller": (
        "API",
        "Posts JSON to an HTTP endpoint with a bearer token from the deployment's secrets.",
        {
            "method": "POST",
            "url": "{{inputs.endpoint}}",
            "headers": {"Content-Type": "application/json"},
            "body": "{{inputs.payload}}",
            "auth": {"type": "bearer", "token": "{{env.API_TOKEN}}"},
            "timeoutMs": 15000,
        },
        ["api", "integration"],
    ),
    "LLM Summarizer": (
        "LLM",
        "Summarises a text in three sentences.",
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "systemPrompt": "You write short, faithful summaries.",
            "prompt": "Summarise in three sentences:\n\n{{inputs.text}}",
            "temperature": 0.2,
            "maxTokens": 300,
            "responseFormat": "text",
        },
        ["llm", "text"],
    ),
    "Email Sender": (
        "API",
        "Sends an email through SendGrid's v3 API.",
        {
            "method": "POST",
            "url": "https://api.sendgrid.com/v3/mail/send",
            "headers": {"Content-Type": "application/json"},
            "auth": {"type": "bearer", "token": "{{env.SENDGRID_API_KEY}}"},
            "body": {
                "personalizations": [{"to": [{"email": "{{inputs.to}}"}]}],
                "from": {"email": "{{inputs.from}}"},
                "subject": "{{inputs.subject}}",
                "content": [{"type": "text/plain", "value": "{{inputs.body}}"}],
            },
        },
        ["email", "notifications"],
    ),
}

# Workflow files (docs/workflow-files.md) whose agents are the seeded ones, by name; 6 steps in all.
WORKFLOWS: Final[list[dict[str, Any]]] = [
    {
        "name": "Summarise a web page by email",
        "description": "Scrape a page, summarise it with an LLM, and email the summary.",
        "inputs": {"url": "https://example.com", "to": "you@example.com"},
        "steps": [
            {
                "stepKey": "scrape",
                "agent": "Web Scraper",
                "inputs": {"url": "{{inputs.url}}"},
                "retryCount": 2,
                "retryDelayMs": 1000,
                "config": {"retryOn": ["network", "http_5xx"]},
            },
            {
                "stepKey": "summarise",
                "agent": "LLM Summarizer",
                "dependsOn": ["scrape"],
                "inputs": {"text": "{{scrape.output.body}}"},
            },
            {
                "stepKey": "email",
                "agent": "Email Sender",
                "dependsOn": ["summarise"],
                "inputs": {
                    "to": "{{inputs.to}}",
                    "from": "turbocat@example.com",
                    "subject": "Summary of {{inputs.url}}",
                    "body": "{{summarise.output.text}}",
                },
            },
        ],
    },
    {
        "name": "Clean and forward records",
        "description": "Clean a batch of records and post them on when there are any.",
        "inputs": {"records": [], "endpoint": "https://example.com/hooks/records"},
        "steps": [
            {
                "stepKey": "clean",
                "agent": "Data Transformer",
                "inputs": {"data": "{{inputs.records}}"},
            },
            {
                "stepKey": "any_left",
                "stepType": "CONDITION",
                "dependsOn": ["clean"],
                "config": {
                    "condition": {"left": "{{clean.output}}", "operator": "neq", "right": []},
                    "onTrue": ["forward"],
                },
            },
            {
                "stepKey": "forward",
                "agent": "API Caller",
                "inputs": {"endpoint": "{{inputs.endpoint}}", "payload": "{{clean.output}}"},
                "dependsOn": ["clean"],
                "onError": "RETRY",
            },
        ],
    },
]


def _agent_template(name: str) -> dict[str, Any]:
    agent_type, description, config, _ = AGENTS[name]
    return {"type": agent_type, "name": name, "description": description, "config": config}


def _workflow_file(workflow: dict[str, Any]) -> dict[str, Any]:
    """A seeded workflow as a self-contained file: its agents keyed by local names."""
    used = {step["agent"] for step in workflow["steps"] if "agent" in step}
    local = {name: name.lower().replace(" ", "_") for name in used}
    return {
        **{k: v for k, v in workflow.items() if k != "steps"},
        "agents": {local[name]: _agent_template(name) for name in sorted(used)},
        "steps": [
            {**step, "agent": local[step["agent"]]} if "agent" in step else step
            for step in workflow["steps"]
        ],
    }


# name -> (category, type, description, template data, tags); official and public
TEMPLATES: Final[dict[str, tuple[str, str, str, dict[str, Any], list[str]]]] = {
    "Web Scraper": (
        "Data Collection",
        "AGENT",
        AGENTS["Web Scraper"][1],
        _agent_template("Web Scraper"),
        ["web", "scraping"],
    ),
    "Data Transformer": (
        "Data Processing",
        "AGENT",
        AGENTS["Data Transformer"][1],
        _agent_template("Data Transformer"),
        ["data", "etl"],
    ),
    "API Integration": (
        "Integrations",
        "AGENT",
        AGENTS["API Caller"][1],
        _agent_template("API Caller"),
        ["api", "integration"],
    ),
    "LLM Assistant": (
        "AI",
        "AGENT",
        AGENTS["LLM Summarizer"][1],
        _agent_template("LLM Summarizer"),
        ["llm", "ai"],
    ),
    "Email Automation": (
        "Communication",
        "WORKFLOW",
        WORKFLOWS[0]["description"],
        _workflow_file(WORKFLOWS[0]),
        ["email", "llm", "web"],
    ),
    "Data Pipeline": (
        "Data Processing",
        "WORKFLOW",
        WORKFLOWS[1]["description"],
        _workflow_file(WORKFLOWS[1]),
        ["data", "etl", "api"],
    ),
}

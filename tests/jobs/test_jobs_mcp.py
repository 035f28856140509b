"""The `jobs` toolset through the SDK client: start a search job, follow it, list it,
cancel one; bad ids say what to do."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import JobsSettings, ServerSettings, Settings


async def test_start_follow_list_cancel(tmp_path: Path) -> None:
    settings = Settings(ServerSettings(data_dir=tmp_path, _env_file=None),  # type: ignore[call-arg]
                        jobs=JobsSettings(broker_url="", _env_file=None))  # type: ignore[call-arg]  # fmt: skip
    server, _ = build_server(settings)
    async with Client(server) as client:
        args = {
            "params": {"fast": [5, 10], "slow": [30, 50]},
            "strategy": "sma_cross",
            "bars": 2000,
        }
        started = (await client.call_tool("start_search_job", args)).structured_content
        assert started is not None and started["state"] == "queued" and started["total"] == 4
        job_id = started["id"]
        with anyio.fail_after(60):
            while True:
                got = await client.call_tool("get_job", {"job_id": job_id, "include_result": True})
                info = got.structured_content
                assert info is not None
                if info["state"] == "succeeded":
                    break
                await anyio.sleep(0.1)
        # the result as optimize_grid answers it, the ranked table a resource
        assert info["result"]["evaluated"] == 4 and info["done"] == 4
        table = (await client.read_resource(info["result"]["table"])).contents[0]
        assert len(json.loads(table.text)["rows"]) == 4  # type: ignore[union-attr]
        listed = (await client.call_tool("list_jobs", {})).structured_content
        assert listed is not None and job_id in [j["id"] for j in listed["jobs"]]
        done = (await client.call_tool("cancel_job", {"job_id": job_id})).structured_content
        assert done is not None and done["state"] == "succeeded"  # over already: unchanged
        res = json.loads((await client.read_resource(f"job://{job_id}")).contents[0].text)  # type: ignore[union-attr]
        assert res["state"] == "succeeded" and res["events"][-1]["kind"] == "succeeded"
        assert len(res["result"]["table"]) == 4
        missing = await client.call_tool("get_job", {"job_id": "0" * 32})
        assert missing.is_error and "list jobs" in missing.content[0].text  # type: ignore[union-attr]

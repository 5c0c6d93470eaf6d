"""Through the real engine: an agency whose policy masks PERSON gets names masked in the
answer and in the decision log; one that does not name PERSON gets them untouched."""

from __future__ import annotations

import json

from .conftest import Cluster
from .test_auth import create_key
from .test_policy_api import ORG, YAML, action
from .test_policy_request_scanning import stored_decision

NAME = "Maria Schmidt"
AGENCY_POLICY = """
apiVersion: cortex.codevald.io/v1
kind: AIPolicy
metadata: {{name: {agency}, agency: {agency}, layer: agency}}
spec:
  pii: {pii}
"""


async def _publish(cluster: Cluster, agency: str, pii: str) -> None:
    async with cluster.client() as admin:
        org = await admin.put("/v1/org/policy", content=ORG, headers=YAML)
        assert org.status_code == 201, org.text
        text = AGENCY_POLICY.format(agency=agency, pii=pii)
        put = await admin.put(f"/v1/agencies/{agency}/policy", content=text, headers=YAML)
        assert put.status_code == 201, put.text


async def _authorize(cluster: Cluster, agency: str) -> dict[str, object]:
    agent = await create_key(cluster, agency, "agent")
    body = {
        "agent_id": "n1",
        "action": action(),
        "payload": {"prompt": f"Write a thank-you note to {NAME} for the quick reply."},
    }
    async with cluster.client(key=agent) as client:
        answer: dict[str, object] = (await client.post("/v1/authorize", json=body)).json()
    return answer


async def test_a_policy_that_masks_person_masks_names_in_the_answer_and_the_log(
    cluster: Cluster,
) -> None:
    await _publish(cluster, "names", "{entities: {PERSON: mask}}")
    answer = await _authorize(cluster, "names")
    assert answer["decision"] == "allow", answer
    assert answer["masked_payload"] == {
        "prompt": "Write a thank-you note to [PERSON] for the quick reply."
    }
    assert NAME not in await stored_decision(cluster, str(answer["decision_id"]))


async def test_names_are_not_looked_for_when_the_policy_does_not_name_them(
    cluster: Cluster,
) -> None:
    await _publish(cluster, "nonames", "{default: deny}")  # pii.default does not reach names
    answer = await _authorize(cluster, "nonames")
    assert answer["decision"] == "allow", answer
    assert "PERSON" not in json.dumps(answer), answer

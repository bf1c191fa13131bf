"""rtc_sros2's keystore and access-control policy, checked with the real openssl.

DDS security itself cannot run here (the PyPI Fast DDS is built without it, docs/sros2.md); what
is checked is what a Fast DDS with security reads: the S/MIME signatures verify against the
permissions CA (and fail once tampered with), the certificates chain to the identity CA, and the
signed permissions say who may publish and subscribe what. sros2's XSDs are not in the repository
(nor fetched: no network in CI), so the structure they ask for is asserted here.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pytest
from ament_index_python.packages import get_package_prefix
from cryptography import x509

from rtc_tools.foxglove_channels import FORWARDED_TOPICS
from rtc_bringup.graph import NODE_ENCLAVES, build_graph
from rtc_bringup.run import node_command
from rtc_bringup.sros2_keystore import main
from rtc_bringup.sros2_policy import MONITOR_NODE, NODE_PUBLISH, NODE_SUBSCRIBE, READ_BY_ALL, graph_enclaves
from rtc_contract.topics import DIAGNOSTICS_TOPIC

PKG = Path(__file__).resolve().parents[1]
DOC = PKG.parent / "docs" / "sros2.md"
OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")
ENCLAVES = sorted(set(NODE_ENCLAVES.values()))
NAMESPACE = "arm1"


@pytest.fixture(scope="module")
def keystore(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("keystore")
    assert main([str(root), "--namespace", NAMESPACE, "--domain-id", "7"]) == 0
    return root


def verified(signed: Path, ca: Path) -> subprocess.CompletedProcess:
    """`openssl smime -verify` of a .p7s; stdout is the signed document without its MIME header."""
    return subprocess.run([OPENSSL, "smime", "-verify", "-text", "-in", str(signed), "-CAfile", str(ca)],
                          capture_output=True, text=True)


def permissions(keystore: Path, enclave: str) -> ElementTree.Element:
    directory = keystore / "enclaves" / enclave.lstrip("/")
    result = verified(directory / "permissions.p7s", directory / "permissions_ca.cert.pem")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (directory / "permissions.xml").read_text().strip()
    return ElementTree.fromstring(result.stdout)


def allowed(keystore: Path, enclave: str, action: str) -> set[str]:
    """The DDS topics an enclave's signed permissions allow it to `publish` or `subscribe`."""
    grant = permissions(keystore, enclave).find("permissions/grant")
    return {t.text for rule in grant.findall("allow_rule") for t in rule.findall(f"{action}/topics/topic")}


def test_the_layout_is_sros2s(keystore):
    for name in ("public/ca.cert.pem", "public/identity_ca.cert.pem", "public/permissions_ca.cert.pem",
                 "private/ca.key.pem", "private/identity_ca.key.pem", "private/permissions_ca.key.pem",
                 "enclaves/governance.xml", "enclaves/governance.p7s", "policy.xml"):
        assert (keystore / name).is_file(), name
    for enclave in ENCLAVES:
        directory = keystore / "enclaves" / enclave.lstrip("/")
        for name in ("cert.pem", "key.pem", "governance.p7s", "permissions.xml", "permissions.p7s",
                     "identity_ca.cert.pem", "permissions_ca.cert.pem"):
            assert (directory / name).is_file(), f"{enclave}: {name}"
        assert (directory / "key.pem").stat().st_mode & 0o077 == 0  # private keys readable by the owner only
    # what `ros2 security list_enclaves` lists: every directory holding a key.pem
    assert sorted(f"/{p.parent.relative_to(keystore / 'enclaves').as_posix()}"
                  for p in (keystore / "enclaves").glob("**/key.pem")) == ENCLAVES


@pytest.mark.parametrize("enclave", ENCLAVES)
def test_every_signature_verifies_and_every_certificate_chains_to_the_ca(keystore, enclave):
    directory = keystore / "enclaves" / enclave.lstrip("/")
    assert permissions(keystore, enclave).find("permissions/grant").get("name") == enclave
    governance = verified(directory / "governance.p7s", directory / "permissions_ca.cert.pem")
    assert governance.returncode == 0, governance.stderr
    chain = subprocess.run([OPENSSL, "verify", "-CAfile", str(directory / "identity_ca.cert.pem"),
                            str(directory / "cert.pem")], capture_output=True, text=True)
    assert chain.returncode == 0, chain.stderr
    ca = x509.load_pem_x509_certificate((keystore / "public/ca.cert.pem").read_bytes())
    cert = x509.load_pem_x509_certificate((directory / "cert.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.rfc4514_string() == f"CN={enclave}"
    grant = permissions(keystore, enclave).find("permissions/grant")
    assert grant.findtext("subject_name") == f"CN={enclave}"  # the permissions name this certificate
    assert grant.findtext("validity/not_after") == cert.not_valid_after_utc.replace(tzinfo=None).isoformat()


def test_a_tampered_permissions_file_fails_verification(keystore, tmp_path):
    directory = keystore / "enclaves/rtc/camera"
    text = (directory / "permissions.p7s").read_text()
    assert "<topic>rt/arm1/camera/front/image_raw</topic>" in text
    tampered = tmp_path / "permissions.p7s"  # the camera grants itself the action chunk
    tampered.write_text(text.replace("rt/arm1/camera/front/image_raw", "rt/arm1/rtc/action_chunk"))
    result = verified(tampered, directory / "permissions_ca.cert.pem")
    assert result.returncode != 0
    assert "verification failure" in result.stderr.lower() or "digest failure" in result.stderr.lower()
    other_ca = tmp_path / "other"
    assert main([str(other_ca)]) == 0  # a signature by another keystore's CA is refused too
    assert verified(directory / "permissions.p7s", other_ca / "public/permissions_ca.cert.pem").returncode != 0


def test_only_the_policy_publishes_chunks_and_only_the_executor_commands(keystore):
    chunk, commands = "rt/arm1/rtc/action_chunk", {"rt/arm1/so100/command", "rt/arm1/so100/command_array",
                                                   "rt/arm1/so100/joint_trajectory"}
    publishers = {e: allowed(keystore, e, "publish") for e in ENCLAVES}
    assert [e for e in ENCLAVES if chunk in publishers[e]] == ["/rtc/policy"]
    assert [e for e in ENCLAVES if publishers[e] & commands] == ["/rtc/executor"]
    assert commands <= publishers["/rtc/executor"]
    assert allowed(keystore, "/rtc/driver", "subscribe") >= {"rt/arm1/so100/command", "rt/arm1/so100/command_array"}
    assert chunk in allowed(keystore, "/rtc/executor", "subscribe")
    assert [e for e in ENCLAVES if "rt/arm1/joint_states" in publishers[e]] == ["/rtc/driver"]
    monitor = {t for t in publishers["/rtc/monitor"] if t.startswith("rt/")}
    assert monitor == {"rt/rosout", "rt/parameter_events"}  # the viewer writes nothing of the graph's
    for enclave in ENCLAVES:  # no wildcards: nothing outside the listed names
        assert not any("*" in t for t in publishers[enclave] | allowed(keystore, enclave, "subscribe"))
        assert permissions(keystore, enclave).findtext("permissions/grant/default") == "DENY"


def test_everyone_may_read_status_timing_and_diagnostics(keystore):
    for enclave in ENCLAVES:
        assert {"rt/arm1/rtc/executor_status", "rt/arm1/rtc/timing", "rt/diagnostics",
                "ros_discovery_info"} <= allowed(keystore, enclave, "subscribe"), enclave


def test_permissions_and_governance_have_the_structure_sros2s_schemas_ask_for(keystore):
    for enclave in ENCLAVES:
        grant_list = permissions(keystore, enclave).findall("permissions/grant")
        assert len(grant_list) == 1
        grant = grant_list[0]
        assert [c.tag for c in grant] == ["subject_name", "validity", "allow_rule", "allow_rule", "default"]
        for rule in grant.findall("allow_rule"):
            assert [c.tag for c in rule] == ["domains", "publish", "subscribe"]
            assert rule.findtext("domains/id") == "7"
            topics = [t.text for t in rule.findall("publish/topics/topic")]
            assert topics == sorted(set(topics))  # sorted and unique, as sros2 writes them
    governance = ElementTree.parse(keystore / "enclaves/governance.xml").getroot()
    rule = governance.find("domain_access_rules/domain_rule")
    assert [c.tag for c in rule] == ["domains", "allow_unauthenticated_participants", "enable_join_access_control",
                                     "discovery_protection_kind", "liveliness_protection_kind",
                                     "rtps_protection_kind", "topic_access_rules"]
    assert rule.findtext("domains/id") == "7"
    assert rule.findtext("allow_unauthenticated_participants") == "false"
    topic_rule = rule.find("topic_access_rules/topic_rule")
    assert topic_rule.findtext("enable_write_access_control") == "true"
    assert topic_rule.findtext("data_protection_kind") == "ENCRYPT"


def test_policy_xml_lists_each_node_profile_in_sros2s_policy_format(keystore):
    policy = ElementTree.parse(keystore / "policy.xml").getroot()
    assert policy.tag == "policy" and policy.get("version") == "0.2.0"
    enclaves = {e.get("path"): e for e in policy.findall("enclaves/enclave")}
    assert sorted(enclaves) == ENCLAVES
    by_node = {node: enclaves[path].find("profiles/profile") for node, path in NODE_ENCLAVES.items()}
    for node, profile in by_node.items():
        assert (profile.get("ns"), profile.get("node")) == (f"/{NAMESPACE}", node)
        for topics in profile.findall("topics"):
            assert set(topics.attrib) in ({"publish"}, {"subscribe"}) and set(topics.attrib.values()) == {"ALLOW"}
        assert {s.text for s in profile.findall("services/service")} >= {"~/get_parameters", "~/set_parameters"}
    published = [t.text for t in by_node["rtc_policy"].findall("topics[@publish='ALLOW']/topic")]
    assert "rtc/action_chunk" in published  # relative: sros2 resolves it in the profile's ns


def test_rerunning_keeps_the_ca_and_the_enclave_keys(tmp_path):
    assert main([str(tmp_path)]) == 0
    before = {p: p.read_bytes() for p in [tmp_path / "private/ca.key.pem", tmp_path / "enclaves/rtc/policy/key.pem"]}
    assert main([str(tmp_path), "--namespace", "lab/arm2", "--cameras", "front=cam/image,wrist=/wrist/image"]) == 0
    assert {p: p.read_bytes() for p in before} == before
    subscribed = allowed(tmp_path, "/rtc/policy", "subscribe")
    assert {"rt/lab/arm2/cam/image", "rt/wrist/image"} <= subscribed
    assert "rt/lab/arm2/camera/front/image_raw" not in subscribed


@pytest.mark.parametrize("arguments, message", [
    (["--namespace", "1arm"], "'1arm' is not a valid name"),
    (["--cameras", "front"], "camera entry 'front' is not name=topic"),
    (["--domain-id", "300"], "--domain-id 300: expected 0 to 232"),
    (["--domain-id", "two"], "--domain-id two: expected 0 to 232"),
])
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys, arguments, message):
    assert main([str(tmp_path / "ks"), *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "ks").exists()


def test_every_graph_node_has_an_enclave_and_enclaves_true_passes_it(tmp_path):
    assert {e.profile.node for e in graph_enclaves()} == set(NODE_ENCLAVES)
    specs = build_graph({"enclaves": "true", "foxglove": "true"}, PKG)
    assert {s.name: s.enclave for s in specs} == {s.name: NODE_ENCLAVES[s.name] for s in specs}
    policy = next(s for s in specs if s.name == "rtc_policy")
    command = node_command(policy, tmp_path)
    assert command[command.index("--ros-args"):][-2:] == ["--enclave", "/rtc/policy"]
    plain = next(s for s in build_graph({}, PKG) if s.name == "rtc_policy")
    assert plain.enclave == "" and "--enclave" not in node_command(plain, tmp_path)


def test_the_docs_table_lists_each_enclave_with_its_own_topics():
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`\w+`", cells[0]) and cells[1].startswith("`/rtc/"):
            rows[cells[0].strip("`")] = [cells[1].strip("`")] + [
                {n for n in re.findall(r"`([^`]+)`", c) if not n.startswith("-")} for c in cells[2:]]
    enclaves = {e.profile.node: e for e in graph_enclaves()}
    assert set(rows) == set(enclaves)
    for node, (path, publishes, subscribes) in rows.items():
        assert path == enclaves[node].path, node
        if node == MONITOR_NODE:  # documented as "every topic above"
            continue
        assert publishes == set(enclaves[node].profile.publish) - {*NODE_PUBLISH, DIAGNOSTICS_TOPIC}, node
        assert subscribes == set(enclaves[node].profile.subscribe) - {*NODE_SUBSCRIBE, *READ_BY_ALL}, node


def test_the_executor_serves_hold_resume_reset_and_the_monitor_may_call_them(keystore):
    for verb in ("hold", "resume", "reset"):
        names = {f"rq/{NAMESPACE}/rtc_executor/{verb}Request", f"rr/{NAMESPACE}/rtc_executor/{verb}Reply"}
        for enclave in ("/rtc/executor", "/rtc/monitor"):
            assert names <= allowed(keystore, enclave, "publish") & allowed(keystore, enclave, "subscribe")
        assert not names & allowed(keystore, "/rtc/policy", "publish")


def test_the_monitor_reads_every_topic_the_foxglove_server_forwards(keystore):
    assert {f"rt{n}" if n.startswith("/") else f"rt/{NAMESPACE}/{n}" for n in FORWARDED_TOPICS} \
        <= allowed(keystore, "/rtc/monitor", "subscribe")


def test_the_installed_command_prints_what_a_user_exports(tmp_path):
    command = Path(get_package_prefix("rtc_bringup")) / "lib" / "rtc_bringup" / "rtc_sros2"
    result = subprocess.run([str(command), str(tmp_path / "ks"), "--domain-id", "3"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    for expected in (f"export ROS_SECURITY_KEYSTORE={tmp_path / 'ks'}", "export ROS_SECURITY_ENABLE=true",
                     "export ROS_SECURITY_STRATEGY=Enforce", "export ROS_SECURITY_ENCLAVE_OVERRIDE=/rtc/monitor"):
        assert expected in lines
    assert any("enclaves:=true" in line for line in lines) and any("--enclave /rtc/policy" in line for line in lines)
    assert ElementTree.parse(tmp_path / "ks/enclaves/governance.xml").getroot().findtext(
        "domain_access_rules/domain_rule/domains/id") == "3"

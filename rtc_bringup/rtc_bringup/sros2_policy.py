"""Who may publish and subscribe what in the RTC graph, as SROS2 (DDS-Security) access control.

One enclave per node (graph.NODE_ENCLAVES), each allowed exactly the topics its node uses, named
by the nodes' own topic constants: only the policy enclave may publish action chunks, only the
executor the arm's command topics, and every enclave may read the executor's status, the policy's
timing and /diagnostics. The executor serves its hold/resume/reset services, and the monitor
enclave (where command-line tools join) may call them. Everything else is denied (DDS-Security's
default DENY).

Written in sros2's formats: `policy_xml` is the policy file `ros2 security generate_artifacts -p`
reads; `permissions_xml` is what sros2 makes of it for one enclave (topic names with the rt/ prefix,
services as rq/…Request and rr/…Reply, sorted), and `governance_xml` is sros2's default governance
(authenticated participants only, discovery and data encrypted, read and write access control on).
No rclpy here: rtc_sros2 (rtc_bringup.sros2_keystore) signs these files.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

from rtc_contract.topics import (ACTION_CHUNK_TOPIC, COMMAND_TOPICS, EXECUTOR_SERVICES, EXECUTOR_STATUS_TOPIC,
                                    JOINT_STATES_TOPIC, TIMING_TOPIC)
from rtc_contract.topics import DIAGNOSTICS_TOPIC
from so100_driver import topics as driver_topics

from rtc_bringup.graph import CAMERA_TOPIC, NODE_ENCLAVES
from rtc_bringup.robot_description import ROBOT_DESCRIPTION_TOPIC

POLICY_VERSION = "0.2.0"  # the sros2 policy format version
# What every rclpy node does besides its own topics: log to rosout, follow /clock and parameter
# events, and serve its parameter and type-description services (sros2's common node profile).
NODE_PUBLISH = ("/rosout", "/parameter_events")  # rcl logs to /rosout whatever the namespace
NODE_SUBSCRIBE = ("/clock", "/parameter_events")
NODE_SERVICES = ("~/describe_parameters", "~/get_parameter_types", "~/get_parameters", "~/list_parameters",
                 "~/set_parameters", "~/set_parameters_atomically", "~/get_type_description")
READ_BY_ALL = (EXECUTOR_STATUS_TOPIC, TIMING_TOPIC, DIAGNOSTICS_TOPIC)
# rmw_fastrtps shares the ROS graph on this DDS topic; sros2 allows it for Fast DDS as well.
ROS_DISCOVERY_TOPIC = "ros_discovery_info"
MONITOR_NODE = "foxglove_server"  # the monitor enclave's graph node; CLI tools join it by --enclave


@dataclass(frozen=True)
class Profile:
    """One node's allowed topics and services besides NODE_SERVICES (ROS names: relative, ~/private or absolute)."""
    node: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class Enclave:
    path: str
    profile: Profile


def graph_enclaves(cameras: Sequence[str] = ()) -> list[Enclave]:
    """The enclaves of every node graph.build_graph can start; `cameras`: the policy's camera topics
    (none given: the default camera, as with cameras:= empty)."""
    cameras = tuple(cameras) or (CAMERA_TOPIC,)
    own = {
        "so100_driver": ((driver_topics.JOINT_STATES_TOPIC, DIAGNOSTICS_TOPIC),
                         (driver_topics.COMMAND_TOPIC, driver_topics.COMMAND_ARRAY_TOPIC)),
        "sim_camera": ((driver_topics.IMAGE_TOPIC, DIAGNOSTICS_TOPIC), (driver_topics.JOINT_STATES_TOPIC,)),
        "rtc_camera": ((*cameras, *(f"{c}/compressed" for c in cameras), DIAGNOSTICS_TOPIC), ()),
        "twin": ((*driver_topics.CAMERA_TOPICS.values(), DIAGNOSTICS_TOPIC), ()),  # the bus is its pty
        "rtc_policy": ((ACTION_CHUNK_TOPIC, TIMING_TOPIC, DIAGNOSTICS_TOPIC),
                       (JOINT_STATES_TOPIC, EXECUTOR_STATUS_TOPIC, *cameras)),
        "rtc_executor": ((*COMMAND_TOPICS.values(), EXECUTOR_STATUS_TOPIC, DIAGNOSTICS_TOPIC),
                         (ACTION_CHUNK_TOPIC, JOINT_STATES_TOPIC)),
        "robot_description": ((ROBOT_DESCRIPTION_TOPIC,), ()),
    }
    everything = tuple(sorted({t for publish, _ in own.values() for t in publish}))
    own[MONITOR_NODE] = ((), (*everything, "/rosout"))  # a viewer: reads every topic and the log, writes none
    services = {"rtc_executor": EXECUTOR_SERVICES,  # served; called from the monitor enclave (ros2 service call)
                MONITOR_NODE: tuple(f"rtc_executor/{name.removeprefix('~/')}" for name in EXECUTOR_SERVICES)}
    return [Enclave(NODE_ENCLAVES[node], Profile(node, _unique(NODE_PUBLISH + publish),
                                                 _unique(NODE_SUBSCRIBE + READ_BY_ALL + subscribe),
                                                 services.get(node, ())))
            for node, (publish, subscribe) in own.items()]


def _unique(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def fully_qualified(name: str, namespace: str, node: str) -> str:
    """A topic or service name as rcl resolves it for `node` in `namespace` ("" or "arm1")."""
    prefix = f"/{namespace}" if namespace else ""
    if name.startswith("/"):
        return name
    if name.startswith("~"):
        return f"{prefix}/{node}{name[1:]}"
    return f"{prefix}/{name}"


def policy_xml(enclaves: Sequence[Enclave], namespace: str = "") -> str:
    """The sros2 policy file (policy.xsd 0.2.0) for these enclaves, nodes in `namespace`."""
    policy = ElementTree.Element("policy", version=POLICY_VERSION)
    container = ElementTree.SubElement(policy, "enclaves")
    for enclave in enclaves:
        profiles = ElementTree.SubElement(ElementTree.SubElement(container, "enclave", path=enclave.path),
                                          "profiles")
        profile = ElementTree.SubElement(profiles, "profile", ns=f"/{namespace}", node=enclave.profile.node)
        for attribute, names in (("publish", enclave.profile.publish), ("subscribe", enclave.profile.subscribe)):
            _texts(ElementTree.SubElement(profile, "topics", {attribute: "ALLOW"}), "topic", names)
        _texts(ElementTree.SubElement(profile, "services", reply="ALLOW", request="ALLOW"), "service",
               NODE_SERVICES + enclave.profile.services)
    return _document(policy)


def dds_topics(profile: Profile, namespace: str) -> tuple[list[str], list[str]]:
    """(published, subscribed) DDS topic names of a profile, as sros2 writes them: rt/ for topics,
    and for services it both requests and replies to rq/<name>Request and rr/<name>Reply."""
    def name(n: str) -> str:
        return fully_qualified(n, namespace, profile.node)

    both = NODE_SERVICES + profile.services
    services = [f"rq{name(s)}Request" for s in both] + [f"rr{name(s)}Reply" for s in both]
    publish = sorted({f"rt{name(t)}" for t in profile.publish} | set(services))
    subscribe = sorted({f"rt{name(t)}" for t in profile.subscribe} | set(services))
    return publish, subscribe


def permissions_xml(enclave: Enclave, namespace: str, domain_id: int, not_before: str, not_after: str) -> str:
    """The DDS permissions document of one enclave: its grant, valid as long as its certificate
    (ISO times), allowing its topics on `domain_id` and denying everything else."""
    dds = ElementTree.Element("dds", {
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:noNamespaceSchemaLocation": "http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_permissions.xsd"})
    grant = ElementTree.SubElement(ElementTree.SubElement(dds, "permissions"), "grant", name=enclave.path)
    ElementTree.SubElement(grant, "subject_name").text = f"CN={enclave.path}"
    validity = ElementTree.SubElement(grant, "validity")
    ElementTree.SubElement(validity, "not_before").text = not_before
    ElementTree.SubElement(validity, "not_after").text = not_after
    publish, subscribe = dds_topics(enclave.profile, namespace)
    for published, subscribed in ((publish, subscribe), ([ROS_DISCOVERY_TOPIC], [ROS_DISCOVERY_TOPIC])):
        rule = ElementTree.SubElement(grant, "allow_rule")
        _texts(ElementTree.SubElement(rule, "domains"), "id", [str(domain_id)])
        _texts(ElementTree.SubElement(ElementTree.SubElement(rule, "publish"), "topics"), "topic", published)
        _texts(ElementTree.SubElement(ElementTree.SubElement(rule, "subscribe"), "topics"), "topic", subscribed)
    ElementTree.SubElement(grant, "default").text = "DENY"
    return _document(dds)


def governance_xml(domain_id: int) -> str:
    """sros2's default governance: only authenticated participants join `domain_id`, discovery,
    liveliness and data are encrypted, messages signed, and every topic's reads and writes are
    checked against the permissions."""
    dds = ElementTree.Element("dds", {
        "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsi:noNamespaceSchemaLocation": "http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_governance.xsd"})
    rule = ElementTree.SubElement(ElementTree.SubElement(dds, "domain_access_rules"), "domain_rule")
    _texts(ElementTree.SubElement(rule, "domains"), "id", [str(domain_id)])
    for tag, text in (("allow_unauthenticated_participants", "false"), ("enable_join_access_control", "true"),
                      ("discovery_protection_kind", "ENCRYPT"), ("liveliness_protection_kind", "ENCRYPT"),
                      ("rtps_protection_kind", "SIGN")):
        ElementTree.SubElement(rule, tag).text = text
    topic_rule = ElementTree.SubElement(ElementTree.SubElement(rule, "topic_access_rules"), "topic_rule")
    for tag, text in (("topic_expression", "*"), ("enable_discovery_protection", "true"),
                      ("enable_liveliness_protection", "true"), ("enable_read_access_control", "true"),
                      ("enable_write_access_control", "true"), ("metadata_protection_kind", "ENCRYPT"),
                      ("data_protection_kind", "ENCRYPT")):
        ElementTree.SubElement(topic_rule, tag).text = text
    return _document(dds)


def _texts(parent: ElementTree.Element, tag: str, texts: Sequence[str]) -> None:
    for text in texts:
        ElementTree.SubElement(parent, tag).text = text


def _document(root: ElementTree.Element) -> str:
    ElementTree.indent(root, "  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"

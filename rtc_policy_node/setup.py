from glob import glob

from setuptools import find_packages, setup

package_name = "rtc_policy_node"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        # The built-in policy's shipped checkpoints (LeRobot pretrained format): kinematic world, twin.
        ("share/" + package_name + "/checkpoints/builtin_so100", glob("checkpoints/builtin_so100/*")),
        ("share/" + package_name + "/checkpoints/builtin_so100_twin", glob("checkpoints/builtin_so100_twin/*")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="rtc-ros2 maintainers",
    maintainer_email="maintainers@rtc-ros2.dev",
    description="Real-Time Chunking policy node and the policy side's core (torch).",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "rtc_policy_node = rtc_policy_node.policy_node:main",
        ],
    },
)

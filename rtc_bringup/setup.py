from glob import glob

from setuptools import find_packages, setup

package_name = "rtc_bringup"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml") + glob("config/*.json") + glob("config/*.xml")),
        ("share/" + package_name + "/urdf", glob("urdf/*.xacro")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="rtc-ros2 maintainers",
    maintainer_email="maintainers@rtc-ros2.dev",
    description="Graph, launch, runner, config, robot description and SROS2 for RTC on the SO-100.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "rtc_run = rtc_bringup.run:main",
            "rtc_robot_description = rtc_bringup.description_node:main",
            "rtc_sros2 = rtc_bringup.sros2_keystore:main",
        ],
    },
)

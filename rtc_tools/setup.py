from setuptools import find_packages, setup

package_name = "rtc_tools"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="rtc-ros2 maintainers",
    maintainer_email="maintainers@rtc-ros2.dev",
    description="Tools for rtc-ros2 runs: record, play, report, replay, figures, traces, Foxglove, link emulation, profiling.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "rtc_record = rtc_tools.recorder:main",
            "rtc_play = rtc_tools.play:main",
            "rtc_report = rtc_tools.report:main",
            "rtc_replay = rtc_tools.replay:main",
            "rtc_demo_figure = rtc_tools.demo_figure:main",
            "rtc_demo_video = rtc_tools.demo_video:main",
            "rtc_trace_report = rtc_tools.trace_report:main",
            "rtc_foxglove = rtc_tools.foxglove_server:main",
            "rtc_profile = rtc_tools.profile_tool:main",
        ],
    },
)

from glob import glob

from setuptools import find_packages, setup

package_name = "so100_driver"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={package_name: ["data/*.json"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/config", glob(package_name + "/data/*.json")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="rtc-ros2 maintainers",
    maintainer_email="maintainers@rtc-ros2.dev",
    description="SO-100 arm driver, Feetech bus, emulator and simulated camera.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "rtc_so100_driver = so100_driver.driver_node:main",
            "rtc_bus_emulator = so100_driver.emulator:main",
            "rtc_sim_camera = so100_driver.sim_camera_node:main",
            "rtc_twin = so100_driver.twin_node:main",
        ],
    },
)

from setuptools import find_packages, setup

package_name = "rtc_camera"

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
    description="OpenCV cameras (LeRobot's cameras syntax) as sensor_msgs/Image topics, torch-free.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "rtc_camera = rtc_camera.camera_node:main",
        ],
    },
)

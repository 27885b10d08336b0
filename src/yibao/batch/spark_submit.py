"""The file to give ``spark-submit``, which runs a Python file rather than a console script::

    spark-submit --master yarn --conf spark.pyspark.python=/opt/yibao/bin/python \\
        "$(python -c 'import yibao.batch.spark_submit as m; print(m.__file__)')" \\
        batch settle --engine spark --claims … --persons … -p … --out …

The arguments are ``yibao``'s; the session spark-submit made is the one the Spark engine uses
(:func:`yibao.batch.spark.spark_session`).
"""

from yibao.cli import main

if __name__ == "__main__":
    main()

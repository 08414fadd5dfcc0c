"""Series, bulk jobs and sheet jobs share one job shape (topup.models.jobs.Job): the bulk job's
cursor count `selected` is its `progress` (renamed, its data kept); series and sheets count
their runs and record when they finished; progress is a bigint everywhere (widened)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("topup", "0019_redemption_hours"),
    ]

    operations = [
        migrations.RenameField(model_name="bulkjob", old_name="selected", new_name="progress"),
        migrations.AlterField(
            model_name="series",
            name="progress",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="sheetjob",
            name="progress",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="series",
            name="runs",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="sheetjob",
            name="runs",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="series",
            name="finished_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="sheetjob",
            name="finished_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]

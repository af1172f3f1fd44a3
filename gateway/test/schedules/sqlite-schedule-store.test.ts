import { SqliteScheduleStore } from '../../src/schedules/sqlite-schedule-store.ts';
import { openTempDatabase } from '../support/sqlite-store.ts';
import { scheduleStoreConformance } from './schedule-store-suite.ts';

scheduleStoreConformance('SqliteScheduleStore', async () => {
  const { db, close } = openTempDatabase();
  return { store: new SqliteScheduleStore(db), close };
});

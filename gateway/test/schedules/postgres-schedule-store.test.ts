import { PostgresScheduleStore } from '../../src/schedules/postgres-schedule-store.ts';
import { usePostgres } from '../support/postgres-store.ts';
import { scheduleStoreConformance } from './schedule-store-suite.ts';

const postgres = usePostgres();
scheduleStoreConformance('PostgresScheduleStore', async () => ({
  store: new PostgresScheduleStore(await postgres.empty()),
  close: () => {},
}));

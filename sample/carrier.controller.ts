import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { SkipMetrics } from '../src';

/**
 * Stands in for a shipping carrier's API, so the sample's outgoing call has somewhere local to go. Its own incoming
 * traffic is not recorded; the call to it is, inside the record of the request that made it.
 */
@Controller('carrier')
@SkipMetrics()
export class CarrierController {
  @Get('track/:id')
  track(@Param('id') id: string) {
    if (id === '404') throw new NotFoundException(`No parcel ${id}`);
    return { parcel: id, status: 'in transit', eta: '2 days' };
  }
}
